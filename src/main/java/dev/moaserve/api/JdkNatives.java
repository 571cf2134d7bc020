package dev.moaserve.api;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.util.TimeZone;
import java.util.zip.Deflater;

/**
 * Links the JDK's native methods that a server's boot calls, before libtorch loads beside it.
 * libtorch_cpu's {@code dlopen} runs its static initialisers (~0.5 s on a small machine) under the
 * dynamic loader's lock, and the JVM takes that lock to link a native method at its first call
 * ({@code dlsym}) or to load a JDK library: while libtorch loaded, Quarkus' boot and the model's
 * reading both stopped at their first such call (a time zone, the console, a selector) and the
 * process ran on one core. Linked here first, they run through it. Each call is one the boot
 * makes anyway; a native not listed only waits as before.
 */
final class JdkNatives {
    private JdkNatives() {}

    static void link() {
        if (io.quarkus.runtime.ImageMode.current() == io.quarkus.runtime.ImageMode.NATIVE_RUN) {
            return; // a native image links the JDK's natives statically
        }
        referenceHandler();
        TimeZone.getDefault();                 // settings and logs: the system time zone
        System.console();                      // the log handler's console check
        new Deflater().end();                  // zip streams
        try (Selector s = Selector.open(); ServerSocketChannel c = ServerSocketChannel.open()) {
            c.configureBlocking(false);        // Vert.x: epoll, eventfd, sockets
        } catch (IOException e) {
            // linked or not, the boot opens its own and reports its own failure
        }
        // metrics and the load's log line: libmanagement and its MXBeans
        ManagementFactory.getRuntimeMXBean().getUptime();
        ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        ManagementFactory.getMemoryPoolMXBeans().forEach(p -> p.getUsage());
        ManagementFactory.getThreadMXBean().getThreadCount();
        ManagementFactory.getOperatingSystemMXBean().getAvailableProcessors();
    }

    /**
     * The Reference Handler thread links its native at the first collection that finds a cleared
     * reference; blocked there, inside the VM, it held up every thread at the next safepoint for
     * the rest of libtorch's load. One small collection now links it.
     */
    private static void referenceHandler() {
        if (explicitCollectionsDisabled()) {
            return; // no collection to make: the wait below would only delay libtorch's start
        }
        ReferenceQueue<Object> queue = new ReferenceQueue<>();
        WeakReference<Object> ref = new WeakReference<>(new Object(), queue);
        System.gc();
        try {
            queue.remove(200); // bounded: a collector may leave the object alone
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        ref.clear();
    }

    private static boolean explicitCollectionsDisabled() {
        try {
            com.sun.management.HotSpotDiagnosticMXBean vm =
                    ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return vm != null && Boolean.parseBoolean(vm.getVMOption("DisableExplicitGC").getValue());
        } catch (RuntimeException e) {
            return false; // not HotSpot: collect, the wait is bounded
        }
    }
}
