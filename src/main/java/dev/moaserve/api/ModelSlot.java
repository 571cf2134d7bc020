package dev.moaserve.api;

import dev.moaserve.api.protocol.ApiException;
import dev.moaserve.engine.LoadedModel;
import dev.moaserve.model.EncoderConfig;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.ModelLocation;

import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One model of the catalogue and where it stands: what it is (read from its config before it
 * loads), its status, the loaded model while there is one, and the requests that hold it. Its
 * mutable fields change under {@link ModelResidency}'s lock only; any thread may read them.
 */
final class ModelSlot {
    enum Status {
        UNLOADED, LOADING, LOADED, UNLOADING, FAILED;

        String json() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * A request's hold on a loaded model, from admission to the end of its response: while any is
     * held the model is not unloaded to make room, and an unload waits for them.
     */
    final class Lease {
        private final AtomicBoolean released = new AtomicBoolean();
        private volatile Runnable onDisconnect = () -> {};
        private final LoadedModel model;
        private final ServedView view;

        Lease(LoadedModel model, ServedView view) {
            this.model = model;
            this.view = view;
        }

        LoadedModel model() {
            return model;
        }

        /** What requests to this model are parsed and rendered against. */
        ServedView view() {
            return view;
        }

        /** The generating model, or 400 for an encoder (it cannot {@code what}, e.g. "generate text"). */
        LoadedModel.Generator generator(String what) {
            return ModelSlot.generator(model, what);
        }

        /** What to do when the client's connection closes before the response ended (the lease then ends too). */
        void onDisconnect(Runnable action) {
            onDisconnect = action;
        }

        /** The client's connection closed. */
        void disconnected() {
            try {
                onDisconnect.run();
            } finally {
                release();
            }
        }

        /** Idempotent: the response ended, or its connection closed. */
        void release() {
            if (released.compareAndSet(false, true)) {
                residency.release(ModelSlot.this);
            }
        }
    }

    final String name;
    /** What loading it reads (its files, device, engine and limits), from the settings at startup. */
    final LoadedModel.Spec spec;
    final boolean pinned;
    /** From its config: an encoder, its context length, and the bytes it accounts for once loaded (0 when unreadable). */
    final boolean encoder;
    final int contextLength;
    final long footprint;
    private final ModelResidency residency;

    volatile Status status = Status.UNLOADED;
    volatile String failure;
    volatile LoadedModel model;
    volatile ServedView view;
    volatile EngineMetrics.ModelMeters meters;
    volatile int leases;
    volatile long lastUsedNanos;
    /** A load under way that got its room (a LOADING slot still waiting for room or its turn holds none). */
    volatile boolean roomReserved;
    /** The load or unload under way (status LOADING or UNLOADING). */
    CompletableFuture<Void> transition;

    ModelSlot(ModelCatalogue.Entry entry, boolean pinned, LoadedModel.Spec spec, ModelResidency residency) {
        this.name = entry.name();
        this.spec = spec;
        this.pinned = pinned;
        this.residency = residency;
        boolean enc = false;
        int ctx = 0;
        long bytes = 0;
        try {
            ModelLocation where = ModelLocation.of(entry.path());
            String source = where.describe() + "/config.json";
            enc = where.encoder();
            ctx = enc ? EncoderConfig.parse(where.config(), source).seqLen() : ModelConfig.parse(where.config(), source).seqLen();
            bytes = LoadedModel.footprint(where, spec);
        } catch (RuntimeException e) {
            status = Status.FAILED;
            failure = e.getMessage() == null ? e.toString() : e.getMessage();
        }
        this.encoder = enc;
        this.contextLength = ctx;
        this.footprint = bytes;
    }

    /** {@code model} if it generates; 400 {@code model_not_generative} for an encoder (it cannot {@code what}). */
    static LoadedModel.Generator generator(LoadedModel model, String what) {
        if (!(model instanceof LoadedModel.Generator g)) {
            throw new ApiException(400, "invalid_request_error", "the model '" + model.name() + "' is an encoder (moa_encoder): it "
                    + "computes embeddings (POST /v1/embeddings) and does not " + what, "model", "model_not_generative");
        }
        return g;
    }

    /** "generator" or "encoder". */
    String kind() {
        return encoder ? "encoder" : "generator";
    }

    /** Bytes accounted now: the footprint while loaded, unloading, or loading with its room reserved; else 0. */
    long residentBytes() {
        Status s = status;
        return s == Status.LOADED || s == Status.UNLOADING || s == Status.LOADING && roomReserved ? footprint : 0;
    }

    /** Nothing running, queued or held: a model that may be unloaded to make room. */
    boolean idle() {
        return leases == 0 && (!(model instanceof LoadedModel.Generator g)
                || g.scheduler().runningCount() == 0 && g.scheduler().waitingCount() == 0);
    }
}
