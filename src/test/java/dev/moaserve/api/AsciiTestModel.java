package dev.moaserve.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.moaserve.model.ModelConfig;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Safetensors;
import dev.moaserve.train.ModelWriter;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A small MoA model with random weights over printable ASCII and newline: a vocabulary that can
 * write JSON (the embedded model's 65 characters cannot), for structured-output tests. Written
 * once per test run under target/.
 */
final class AsciiTestModel {
    static final String NAME = "ascii-test";
    private static Path dir;

    private AsciiTestModel() {}

    static synchronized Path dir() {
        if (dir == null) {
            StringBuilder chars = new StringBuilder("\n");
            for (char c = ' '; c <= '~'; c++) {
                chars.append(c);
            }
            ModelConfig c = ModelConfig.builder().vocab(chars.length()).dim(32).depth(2).seqLen(512).localWindow(8)
                    .routedWindow(8).routedQueries(4).routedKeyValues(8).experts(2).dimHead(8).heads(2).ffMult(2).build();
            Path d = Path.of("target", NAME);
            // plain Java (no libtorch here: a test profile runs before the application owns DJL's natives)
            Random rnd = new Random(2026);
            List<Safetensors.Tensor> tensors = new ArrayList<>();
            for (Map.Entry<String, long[]> e : MoaWeights.expectedShapes(c).entrySet()) {
                long size = 1;
                for (long x : e.getValue()) {
                    size *= x;
                }
                float[] data = new float[(int) size];
                boolean gain = e.getKey().endsWith("gamma") || e.getKey().endsWith("norm.weight");
                for (int i = 0; i < data.length; i++) {
                    data[i] = gain ? 1f : e.getKey().endsWith("norm.bias") ? 0f : (float) (0.2 * rnd.nextGaussian());
                }
                tensors.add(Safetensors.Tensor.f32(e.getKey(), e.getValue(), data));
            }
            try {
                Files.createDirectories(d);
                ObjectMapper json = new ObjectMapper();
                Files.writeString(d.resolve("config.json"), json.writeValueAsString(c.toJson()));
                Safetensors.write(d.resolve("model.safetensors"), tensors, Map.of());
                Files.writeString(d.resolve("vocab.json"), json.writeValueAsString(Map.of("type", "char", "chars", chars.toString())),
                        StandardCharsets.UTF_8);
                Files.writeString(d.resolve("chat_template.json"), ModelWriter.DEFAULT_CHAT_TEMPLATE, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            dir = d;
        }
        return dir;
    }
}
