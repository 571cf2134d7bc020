package dev.moaserve.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import dev.moaserve.cli.EncoderVerify;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The MoA encoder against vectors from the PyTorch modules (docs/encoder/make_encoder_reference.py,
 * with the canonical corrections): with and without the local branch, several experts, padded
 * batches, a sequence shorter than k_q; and one module cross-attending to a context.
 */
class EncoderReferenceTest {
    private static final double TOL = 1e-4;

    private static Path dir(String name) throws Exception {
        return Path.of(EncoderReferenceTest.class.getResource("/encoder/" + name + "/config.json").toURI()).getParent();
    }

    @ParameterizedTest
    @ValueSource(strings = {"local", "routed"})
    void encoderMatchesTheReferenceAndEachSequenceAlone(String name) throws Exception {
        Path d = dir(name);
        EncoderConfig c = EncoderConfig.parse(Files.readAllBytes(d.resolve("config.json")), name);
        try (NDManager m = Djl.newManager();
             EncoderWeights w = EncoderWeights.load(c, Safetensors.open(d.resolve("model.safetensors")), m.newSubManager())) {
            EncoderVerify.Result r = EncoderVerify.verify(w, Safetensors.open(d.resolve("vectors.safetensors")));
            System.out.println(name + ": " + r.line());
            assertTrue(r.maxAbsOutput() <= TOL && r.maxAbsHidden() <= TOL, name + ": " + r.line());
            assertTrue(r.maxAbsBatchedVsAlone() <= 1e-5, name + ": " + r.line());
        }
    }

    @Test
    void crossAttentionMatchesTheReference() throws Exception {
        Path d = dir("cross");
        var cfg = new com.fasterxml.jackson.databind.ObjectMapper().readTree(d.resolve("config.json").toFile());
        int dim = cfg.get("dim").asInt(), dimContext = cfg.get("dim_context").asInt();
        ModelConfig c = ModelConfig.builder().vocab(1).dim(dim).depth(1).seqLen(1).localWindow(1).routedWindow(1)
                .routedQueries(cfg.get("num_routed_queries").asInt())
                .routedKeyValues(cfg.get("num_routed_key_values").asInt()).experts(cfg.get("num_experts").asInt())
                .dimHead(cfg.get("dim_head").asInt()).heads(cfg.get("heads").asInt()).ffMult(1)
                .cosineRouting(cfg.get("cosine_sim_routing").asBoolean()).build();
        Safetensors vectors = Safetensors.open(d.resolve("vectors.safetensors"));
        try (NDManager m = Djl.newManager()) {
            Map<String, long[]> shapes = new LinkedHashMap<>();
            EncoderWeights.mixtureShapes(shapes, "", c, dimContext, false);
            Map<String, NDArray> params = EncoderWeights.loadParams(shapes, Safetensors.open(d.resolve("model.safetensors")), m);
            EncoderWeights.Mixture module = EncoderWeights.mixture(params, "", null, dimContext, c, false);
            NDArray x = m.create(vectors.floats("x"), new Shape(vectors.entry("x").shape()));
            NDArray context = m.create(vectors.floats("context"), new Shape(vectors.entry("context").shape()));
            int[] lengths = EncoderVerify.lengths(vectors, "mask");
            int[] ctxLengths = EncoderVerify.lengths(vectors, "context_mask");
            Rope rope = new Rope(m, 4, c.dimHead(), null);
            NDArray out = EncoderForward.mixture(c, rope, module, m, x, lengths, context, ctxLengths);
            long[] shape = vectors.entry("out").shape();
            double worst = EncoderVerify.maxDiff(out.toFloatArray(), vectors.floats("out"), lengths, (int) shape[1], (int) shape[2]);
            System.out.printf("encoder cross: max_abs_out=%.2e%n", worst);
            assertTrue(worst <= TOL, "cross-attention: max abs difference " + worst);
            assertEquals(0.0, out.get("1, " + lengths[1] + ":").abs().max().getFloat(), "padded queries are zero");
        }
    }
}
