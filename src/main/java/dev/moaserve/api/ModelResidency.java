package dev.moaserve.api;

import dev.moaserve.engine.LoadedModel;
import dev.moaserve.model.Djl;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Which models are loaded, within a byte budget: loads on demand (one at a time, on its own
 * thread), and to make room unloads the least recently used <em>idle</em> model — never one with
 * requests running, queued or held ({@link ModelSlot.Lease}), never one still loading, never a
 * pinned one. When nothing can go, a load waits for a model to become idle, until its deadline,
 * then is refused with what holds the budget. Optionally unloads models idle for a while.
 */
final class ModelResidency implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ModelResidency.class);

    /** What loading means to the server: build the model, then make it visible (metrics) or forget it. */
    interface Loading {
        LoadedModel load(ModelSlot slot);

        void loaded(ModelSlot slot);

        void unloading(ModelSlot slot);
    }

    /** A load that cannot get room within its budget in time. */
    static final class NoRoomException extends IllegalStateException {
        NoRoomException(String message) {
            super(message);
        }
    }

    private final Map<String, ModelSlot> slots = new java.util.LinkedHashMap<>();
    private final long budget;
    private Loading loading;
    private final ExecutorService loader = Executors.newSingleThreadExecutor(r -> daemon(r, "moa-model-load"));
    private ScheduledExecutorService idleCheck;

    ModelResidency(long budget) {
        this.budget = budget;
    }

    /** Wires the slots (built against this residency) and what loads them; before any request. */
    void start(Collection<ModelSlot> catalogue, Loading loading, Duration idleUnload) {
        for (ModelSlot s : catalogue) {
            slots.put(s.name, s);
        }
        this.loading = loading;
        if (idleUnload != null && !idleUnload.isZero()) {
            long every = Math.max(100, Math.min(1000, idleUnload.toMillis() / 4));
            idleCheck = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "moa-model-idle"));
            idleCheck.scheduleWithFixedDelay(() -> unloadIdle(idleUnload.toNanos()), every, every, TimeUnit.MILLISECONDS);
        }
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    /** The slot a name names; null when the catalogue has none. */
    ModelSlot slot(String name) {
        return slots.get(name);
    }

    List<ModelSlot> slots() {
        return List.copyOf(slots.values());
    }

    long budget() {
        return budget;
    }

    synchronized long used() {
        return slots.values().stream().mapToLong(ModelSlot::residentBytes).sum();
    }

    /** A hold on the slot's model if it is loaded now; null otherwise. */
    synchronized ModelSlot.Lease tryLease(ModelSlot slot) {
        if (slot.status != ModelSlot.Status.LOADED) {
            return null;
        }
        slot.leases++;
        slot.lastUsedNanos = System.nanoTime();
        return slot.new Lease(slot.model, slot.view);
    }

    synchronized void release(ModelSlot slot) {
        slot.leases--;
        slot.lastUsedNanos = System.nanoTime();
        notifyAll(); // a load waiting for room may find an idle model now
    }

    /**
     * Completes when the slot's model is loaded: at once if it is, else with the load under way or
     * a new one (after an unload under way). {@code roomWait}: how long a new load may wait for
     * room before it is refused.
     */
    synchronized CompletableFuture<Void> load(ModelSlot slot, Duration roomWait) {
        switch (slot.status) {
            case LOADED:
                return CompletableFuture.completedFuture(null);
            case LOADING:
                return slot.transition;
            case UNLOADING:
                return slot.transition.handle((v, e) -> null).thenCompose(v -> load(slot, roomWait));
            default:
                break;
        }
        if (slot.footprint > budget) {
            return CompletableFuture.failedFuture(new NoRoomException("the model '" + slot.name + "' accounts for "
                    + slot.footprint + " bytes, more than moa.models.memory-budget (" + budget + " bytes) holds"));
        }
        ModelSlot.Status before = slot.status;
        slot.status = ModelSlot.Status.LOADING;
        slot.failure = null;
        CompletableFuture<Void> done = new CompletableFuture<>();
        slot.transition = done;
        long deadline = System.nanoTime() + roomWait.toNanos();
        loader.execute(() -> runLoad(slot, before, done, deadline));
        return done;
    }

    private void runLoad(ModelSlot slot, ModelSlot.Status before, CompletableFuture<Void> done, long deadline) {
        try {
            makeRoom(slot, deadline);
        } catch (NoRoomException e) {
            synchronized (this) {
                slot.status = before == ModelSlot.Status.FAILED ? ModelSlot.Status.UNLOADED : before;
                notifyAll();
            }
            LOG.warnf("model %s not loaded: %s", slot.name, e.getMessage());
            done.completeExceptionally(e);
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            done.completeExceptionally(e);
            return;
        }
        LoadedModel m;
        try {
            m = loading.load(slot);
        } catch (RuntimeException | Error e) {
            synchronized (this) {
                slot.roomReserved = false;
                slot.status = ModelSlot.Status.FAILED;
                slot.failure = e.getMessage() == null ? e.toString() : e.getMessage();
                notifyAll();
            }
            LOG.errorf("model %s failed to load: %s", slot.name, slot.failure);
            LOG.debug("model load failure", e);
            done.completeExceptionally(e);
            return;
        }
        synchronized (this) {
            slot.model = m;
            slot.lastUsedNanos = System.nanoTime();
        }
        loading.loaded(slot); // metrics, the served view; then requests may lease it
        synchronized (this) {
            slot.status = ModelSlot.Status.LOADED;
            slot.roomReserved = false; // LOADED counts by itself
            notifyAll();
        }
        done.complete(null);
    }

    /**
     * Unloads least recently used idle models until the slot's footprint fits beside what stays;
     * waits (for a release) while nothing can go, until {@code deadline}.
     */
    private void makeRoom(ModelSlot slot, long deadline) throws InterruptedException {
        while (true) {
            ModelSlot victim;
            synchronized (this) {
                long others = used();
                if (others + slot.footprint <= budget) {
                    slot.roomReserved = true;
                    return;
                }
                victim = leastRecentlyUsedIdle();
                if (victim == null) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new NoRoomException("no room for the model '" + slot.name + "' (" + slot.footprint + " bytes): "
                                + "moa.models.memory-budget is " + budget + " bytes and " + others + " are held by " + holders()
                                + "; retry when one of them is idle, or unload one (POST /v1/models/unload)");
                    }
                    wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 1000)));
                    continue;
                }
                victim.status = ModelSlot.Status.UNLOADING;
                victim.transition = new CompletableFuture<>();
            }
            LOG.infof("unloading %s (least recently used, idle) to make room for %s", victim.name, slot.name);
            runUnload(victim, Duration.ZERO);
        }
    }

    private ModelSlot leastRecentlyUsedIdle() {
        ModelSlot best = null;
        for (ModelSlot s : slots.values()) {
            if (s.status == ModelSlot.Status.LOADED && !s.pinned && s.idle()
                    && (best == null || s.lastUsedNanos < best.lastUsedNanos)) {
                best = s;
            }
        }
        return best;
    }

    /** The loaded models and why each stays: "a (busy), b (pinned)". */
    private String holders() {
        StringBuilder b = new StringBuilder();
        for (ModelSlot s : slots.values()) {
            if (s.residentBytes() > 0) {
                String why = s.status != ModelSlot.Status.LOADED ? s.status.json() : s.pinned ? "pinned" : "busy";
                b.append(b.length() == 0 ? "" : ", ").append(s.name).append(" (").append(why).append(')');
            }
        }
        return b.toString();
    }

    /**
     * Unloads the slot's model: no new request gets it from now on, the ones that hold it may
     * finish within {@code grace}, then its memory is freed. Completes when it is unloaded.
     */
    synchronized CompletableFuture<Void> unload(ModelSlot slot, Duration grace) {
        switch (slot.status) {
            case LOADED:
                break;
            case UNLOADING:
                return slot.transition;
            case LOADING:
                return slot.transition.handle((v, e) -> null).thenCompose(v -> unload(slot, grace));
            default:
                return CompletableFuture.completedFuture(null);
        }
        slot.status = ModelSlot.Status.UNLOADING;
        CompletableFuture<Void> done = new CompletableFuture<>();
        slot.transition = done;
        daemon(() -> {
            Djl.sideThread(); // closing a decoder sets its thread's intra-op count: this one opens no team
            runUnload(slot, grace);
        }, "moa-model-unload").start();
        return done;
    }

    /** After the slot turned UNLOADING: waits for its holders (at most {@code grace}), drains, frees. */
    private void runUnload(ModelSlot slot, Duration grace) {
        long deadline = System.nanoTime() + grace.toNanos();
        synchronized (this) {
            while (slot.leases > 0 && System.nanoTime() < deadline) {
                try {
                    wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()), 1000)));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        LoadedModel m = slot.model;
        try {
            loading.unloading(slot);
            m.drain(Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
            m.free();
        } catch (RuntimeException e) {
            LOG.warn("unloading " + slot.name + " failed", e);
        }
        synchronized (this) {
            slot.model = null;
            slot.view = null;
            slot.status = ModelSlot.Status.UNLOADED;
            notifyAll();
        }
        LOG.infof("model %s unloaded", slot.name);
        slot.transition.complete(null);
    }

    private void unloadIdle(long idleNanos) {
        long now = System.nanoTime();
        for (ModelSlot s : slots()) {
            synchronized (this) { // checked and turned UNLOADING at once: no lease in between
                if (s.status == ModelSlot.Status.LOADED && !s.pinned && s.idle() && now - s.lastUsedNanos > idleNanos) {
                    LOG.infof("model %s idle for %d s: unloading", s.name, TimeUnit.NANOSECONDS.toSeconds(now - s.lastUsedNanos));
                    unload(s, Duration.ZERO);
                }
            }
        }
    }

    /** Drains every loaded model at once within {@code grace} (shutdown); returns when all have stopped. */
    void drainAll(Duration grace) {
        List<Thread> drains = new java.util.ArrayList<>();
        for (ModelSlot s : slots()) {
            LoadedModel m = s.model;
            if (m != null) {
                drains.add(daemon(() -> m.drain(grace), "moa-drain-" + s.name));
            }
        }
        drains.forEach(Thread::start);
        for (Thread t : drains) {
            try {
                t.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public void close() {
        loader.shutdownNow();
        if (idleCheck != null) {
            idleCheck.shutdownNow();
        }
    }
}
