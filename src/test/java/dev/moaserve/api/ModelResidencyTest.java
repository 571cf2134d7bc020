package dev.moaserve.api;

import ai.djl.Device;
import dev.moaserve.engine.ComputeLoop;
import dev.moaserve.engine.Embedder;
import dev.moaserve.engine.Engine;
import dev.moaserve.engine.EngineStats;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.model.EncoderModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Which model goes to make room, on real models (copies of the shipped encoder, ~11 MB each as
 * accounted) under a budget that holds two: the least recently used idle one; never a held, a
 * loading or a pinned one; a load with no room waits for a release, or is refused naming who holds
 * the budget; an idle model unloads after moa.models.idle-unload.
 */
class ModelResidencyTest {
    private static final LoadedModel.Spec SPEC = new LoadedModel.Spec(Optional.of(EncoderModel.EMBEDDED_NAME), Optional.empty(),
            Device.cpu(), Engine.Config.of(8, 8), Embedder.Pooling.MEAN, Embedder.Limits.single(2048), 4,
            new Constraints.Limits(1, 4, 1000, 1000));

    private final ComputeLoop compute = ComputeLoop.start("moa-engine", true);
    private final List<ModelResidency> residencies = new ArrayList<>();

    @AfterEach
    void close() {
        for (ModelResidency r : residencies) {
            r.slots().forEach(s -> r.unload(s, Duration.ZERO).join());
            r.close();
        }
        compute.close();
    }

    /** Encoders named {@code names}, the first {@code pinned} of them pinned, under a budget of two. */
    private ModelResidency residency(int pinned, Duration idleUnload, String... names) {
        long one = LoadedModel.footprint(dev.moaserve.model.ModelLocation.of(SPEC.path()), SPEC);
        ModelResidency r = new ModelResidency(2 * one + one / 2);
        List<ModelSlot> slots = new ArrayList<>();
        for (int i = 0; i < names.length; i++) {
            slots.add(new ModelSlot(new ModelCatalogue.Entry(names[i], SPEC.path()), i < pinned, SPEC, r));
        }
        r.start(slots, new ModelResidency.Loading() {
            @Override
            public LoadedModel load(ModelSlot slot) {
                return LoadedModel.load(SPEC, EngineStats.NONE, compute);
            }

            @Override
            public void loaded(ModelSlot slot) {
                slot.view = new ServedView(slot.model, null);
            }

            @Override
            public void unloading(ModelSlot slot) {}
        }, idleUnload);
        residencies.add(r);
        return r;
    }

    private static void load(ModelResidency r, String name) throws Exception {
        r.load(r.slot(name), Duration.ofSeconds(30)).get(30, TimeUnit.SECONDS);
    }

    private static String statuses(ModelResidency r) {
        return String.join(" ", r.slots().stream().map(s -> s.name + "=" + s.status.json()).toList());
    }

    @Test
    void theLeastRecentlyUsedIdleModelGoes() throws Exception {
        ModelResidency r = residency(0, null, "a", "b", "c");
        load(r, "a");
        load(r, "b");
        r.tryLease(r.slot("a")).release(); // a used after b
        load(r, "c");
        assertEquals("a=loaded b=unloaded c=loaded", statuses(r));
        assertTrue(r.used() <= r.budget());
    }

    @Test
    void neitherAHeldNorAPinnedModelGoes() throws Exception {
        ModelResidency r = residency(1, null, "pinned", "held", "idle", "new");
        load(r, "pinned");
        load(r, "held");
        ModelSlot.Lease lease = r.tryLease(r.slot("held"));
        // pinned is the least recently used, held the next; neither may go, and nothing else is loaded
        CompletableFuture<Void> waiting = r.load(r.slot("idle"), Duration.ofSeconds(30));
        Thread.sleep(300);
        assertFalse(waiting.isDone(), "waits for room: " + statuses(r));
        assertEquals("pinned=loaded held=loaded idle=loading new=unloaded", statuses(r));
        lease.release(); // held becomes idle: it goes
        waiting.get(30, TimeUnit.SECONDS);
        assertEquals("pinned=loaded held=unloaded idle=loaded new=unloaded", statuses(r));
    }

    @Test
    void aLoadWithNoRoomIsRefusedNamingWhoHoldsTheBudget() throws Exception {
        ModelResidency r = residency(1, null, "pinned", "held", "new");
        load(r, "pinned");
        load(r, "held");
        ModelSlot.Lease lease = r.tryLease(r.slot("held"));
        ExecutionException e = assertThrows(ExecutionException.class,
                () -> r.load(r.slot("new"), Duration.ofMillis(300)).get(30, TimeUnit.SECONDS));
        assertInstanceOf(ModelResidency.NoRoomException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("pinned (pinned), held (busy)"), e.getCause().getMessage());
        assertEquals("pinned=loaded held=loaded new=unloaded", statuses(r));
        lease.release();
    }

    @Test
    void anIdleModelUnloadsAfterTheIdleTime() throws Exception {
        ModelResidency r = residency(0, Duration.ofMillis(300), "a");
        load(r, "a");
        ModelSlot.Lease lease = r.tryLease(r.slot("a"));
        Thread.sleep(700);
        assertEquals("a=loaded", statuses(r), "held: not idle");
        lease.release();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (r.slot("a").status != ModelSlot.Status.UNLOADED && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals("a=unloaded", statuses(r));
        assertEquals(0, r.used());
    }
}
