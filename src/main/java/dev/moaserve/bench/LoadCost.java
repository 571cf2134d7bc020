package dev.moaserve.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a load cost, beside what it achieved: the load generator's own CPU and the server's, so
 * figures on a few shared cores can be read whatever the client takes from them.
 */
final class LoadCost {
    private LoadCost() {}

    /**
     * Runs a load and adds what it cost: this process's CPU seconds (the load generator's own) and,
     * with {@code pid}, the server's (utime + stime from /proc), and the server's CPU per output token.
     */
    static ObjectNode measured(long pid, java.util.concurrent.Callable<ObjectNode> load) throws Exception {
        long ownBefore = ownCpuNanos();
        double serverBefore = serverCpuSeconds(pid);
        ObjectNode r = load.call();
        r.put("loadgen_cpu_s", (ownCpuNanos() - ownBefore) / 1e9);
        if (serverBefore >= 0) {
            double server = serverCpuSeconds(pid) - serverBefore;
            r.put("server_cpu_s", server);
            long tokens = r.get("output_tokens").asLong();
            if (tokens > 0) {
                r.put("server_cpu_ms_per_token", server * 1000 / tokens);
            }
        }
        return r;
    }

    private static long ownCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** A process's user + system CPU seconds from /proc/PID/stat; −1 without a pid or /proc. */
    static double serverCpuSeconds(long pid) {
        if (pid <= 0) {
            return -1;
        }
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0; // fields 14, 15: clock ticks (USER_HZ = 100)
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
    }
}
