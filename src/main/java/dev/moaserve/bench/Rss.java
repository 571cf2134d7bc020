package dev.moaserve.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/** This process's resident memory, from /proc (Linux; 0 elsewhere), now or at its peak over a stretch of work. */
final class Rss {
    private Rss() {}

    static long current() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (Exception noProc) {
            // not Linux
        }
        return 0;
    }

    /** Samples every 10 ms until closed. */
    static Peak sample() {
        return new Peak();
    }

    static final class Peak implements AutoCloseable {
        private final AtomicLong max = new AtomicLong(current());
        private final AtomicBoolean running = new AtomicBoolean(true);
        private final Thread thread = new Thread(() -> {
            while (running.get()) {
                max.accumulateAndGet(current(), Math::max);
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "rss-sampler");

        private Peak() {
            thread.setDaemon(true);
            thread.start();
        }

        long max() {
            return max.accumulateAndGet(current(), Math::max);
        }

        @Override
        public void close() {
            running.set(false);
        }
    }
}
