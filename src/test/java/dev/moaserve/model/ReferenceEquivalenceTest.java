package dev.moaserve.model;

import dev.moaserve.SharedData;
import dev.moaserve.cli.VerifyCommand;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReferenceEquivalenceTest {

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "wide"})
    void fullForwardMatchesPyTorchReference(String name) {
        Path dir = SharedData.require("reference/" + name);
        try (MoaModel model = MoaModel.load(dir)) {
            VerifyCommand.Result r = VerifyCommand.verify(model, ReferenceVectors.load(dir.resolve("vectors.safetensors")));
            System.out.println(name + ": " + r.line());
            assertTrue(r.maxAbsLogits() <= 1e-4, "logits differ: " + r.line());
            assertTrue(r.maxAbsHidden() <= 1e-4, "hidden states differ: " + r.line());
            assertEquals(r.greedyTotal(), r.greedyMatch(), "greedy continuation differs: " + r.line());
            assertTrue(r.passed(), r.line());
        }
    }
}
