package dev.moaserve.engine;

import ai.djl.Device;
import dev.moaserve.engine.constraint.Constraints;
import dev.moaserve.model.ModelLocation;
import dev.moaserve.model.MoaModel;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A generator's load with its files read beforehand (EarlyStart reads them while libtorch starts). */
class LoadedModelTest {
    private static final LoadedModel.Spec SPEC = new LoadedModel.Spec(Optional.empty(), Optional.empty(), Device.cpu(),
            Engine.Config.of(2, 4), Embedder.Pooling.MEAN, Embedder.Limits.single(2048), 4, new Constraints.Limits(1, 4, 1000, 1000));

    private static MoaModel.Files withoutTokenizer(String source) {
        ModelLocation where = ModelLocation.of(Optional.empty());
        MoaModel.Files f = MoaModel.read(where.source(), where.name());
        return new MoaModel.Files(f.name(), source, f.config(), f.weights(), null, f.chatTemplate());
    }

    @Test
    void filesReadBeforehandFromTheSpecsSourceAreTheOnesLoaded() {
        // read from the same place but without a tokenizer: the load uses them, so it refuses them
        MoaModel.Files read = withoutTokenizer(ModelLocation.of(Optional.empty()).describe());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> LoadedModel.load(SPEC, EngineStats.NONE, null, read));
        assertTrue(e.getMessage().contains("has no tokenizer"), e.getMessage());
    }

    @Test
    void filesReadFromElsewhereAreReadAgain() {
        LoadedModel m = LoadedModel.load(SPEC, EngineStats.NONE, null, withoutTokenizer("classpath:somewhere-else"));
        try {
            assertEquals(ModelLocation.EMBEDDED_GENERATOR, m.name());
            assertTrue(m.tokenizer() != null);
        } finally {
            m.free();
        }
    }
}
