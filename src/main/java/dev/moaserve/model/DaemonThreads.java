package dev.moaserve.model;

import java.util.concurrent.Executor;

/** Work run once on a thread of its own: named for thread dumps and profiles, never holding the process open. */
public final class DaemonThreads {
    private DaemonThreads() {}

    /** An executor that starts each task on a new daemon thread called {@code name}. */
    public static Executor named(String name) {
        return task -> {
            Thread t = new Thread(task, name);
            t.setDaemon(true);
            t.start();
        };
    }
}
