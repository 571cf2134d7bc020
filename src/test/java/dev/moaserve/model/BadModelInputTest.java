package dev.moaserve.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.SharedData;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every broken model directory fails at load with one message naming the file and the key. */
class BadModelInputTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    Path tiny;

    @BeforeEach
    void copyTiny() throws IOException {
        tiny = SharedData.require("reference/tiny");
        Files.copy(tiny.resolve("config.json"), dir.resolve("config.json"));
        Files.copy(tiny.resolve("model.safetensors"), dir.resolve("model.safetensors"));
    }

    private ModelException loadFails() {
        return assertThrows(ModelException.class, () -> MoaModel.load(dir).close());
    }

    private void rewriteWeights(String drop, String reshape) throws IOException {
        Safetensors st = Safetensors.open(tiny.resolve("model.safetensors"));
        List<Safetensors.Tensor> out = new ArrayList<>();
        for (Safetensors.Entry e : st.entries().values()) {
            if (e.name().equals(drop)) {
                continue;
            }
            FloatBuffer fb = st.floats(e.name());
            float[] data = new float[fb.remaining()];
            fb.get(data);
            long[] shape = e.name().equals(reshape) ? new long[] {e.elements()} : e.shape();
            out.add(Safetensors.Tensor.f32(e.name(), shape, data));
        }
        Safetensors.write(dir.resolve("model.safetensors"), out, null);
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        rewriteWeights("layers.1.0.attn.to_kv.weight", null);
        ModelException e = loadFails();
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("layers.1.0.attn.to_kv.weight")
                && e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void wrongShapeIsNamed() throws IOException {
        rewriteWeights(null, "layers.0.1.1.weight");
        ModelException e = loadFails();
        assertTrue(e.getMessage().contains("layers.0.1.1.weight") && e.getMessage().contains("shape"), e.getMessage());
    }

    @Test
    void truncatedFileIsRejected() throws IOException {
        byte[] all = Files.readAllBytes(dir.resolve("model.safetensors"));
        Files.write(dir.resolve("model.safetensors"), Arrays.copyOf(all, all.length - 1000));
        ModelException e = loadFails();
        assertTrue(e.getMessage().contains("model.safetensors") && e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void tinyFileWithoutHeaderIsRejected() throws IOException {
        Files.write(dir.resolve("model.safetensors"), new byte[] {1, 2, 3});
        assertTrue(loadFails().getMessage().contains("truncated"));
    }

    @Test
    void badHeaderIsRejected() throws IOException {
        byte[] header = "{not json at all}".getBytes(StandardCharsets.US_ASCII);
        byte[] file = new byte[8 + header.length];
        file[0] = (byte) header.length;
        System.arraycopy(header, 0, file, 8, header.length);
        Files.write(dir.resolve("model.safetensors"), file);
        ModelException e = loadFails();
        assertTrue(e.getMessage().contains("bad safetensors header"), e.getMessage());
    }

    @Test
    void unknownDtypeIsNamed() throws IOException {
        byte[] all = Files.readAllBytes(dir.resolve("model.safetensors"));
        String s = new String(all, StandardCharsets.ISO_8859_1);
        // same byte length, so offsets stay valid: "F32" → "Q32" for the first tensor
        int at = s.indexOf("\"F32\"");
        all[at + 1] = 'Q';
        Files.write(dir.resolve("model.safetensors"), all);
        ModelException e = loadFails();
        assertTrue(e.getMessage().contains("unsupported dtype 'Q32'") && e.getMessage().contains("tensor '"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "num_routed_queries|0|num_routed_queries must be >= 1",
        "heads|0|heads must be >= 1",
        "local_attn_window_size|0|local_attn_window_size must be >= 1",
        "routed_window_size|-4|routed_window_size must be >= 1",
        "dim|\"64\"|key 'dim' must be an integer",
        "cosine_sim_routing|1|key 'cosine_sim_routing' must be true or false",
        "no_such_key|3|unknown key 'no_such_key'",
    })
    void invalidConfigIsNamed(String key, String value, String expected) throws IOException {
        ObjectNode cfg = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        cfg.set(key, JSON.readTree(value));
        JSON.writeValue(dir.resolve("config.json").toFile(), cfg);
        ModelException e = loadFails();
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains(expected), e.getMessage());
    }

    @Test
    void missingRequiredConfigKeyIsNamed() throws IOException {
        ObjectNode cfg = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        cfg.remove("num_experts");
        JSON.writeValue(dir.resolve("config.json").toFile(), cfg);
        assertTrue(loadFails().getMessage().contains("missing required key 'num_experts'"));
    }

    @Test
    void configThatIsNotJsonIsRejected() throws IOException {
        Files.writeString(dir.resolve("config.json"), "dim = 64");
        assertTrue(loadFails().getMessage().contains("config.json: not valid JSON"));
    }

    @Test
    void outOfRangeTokensAndOverlongSequencesAreRejected() {
        try (MoaModel model = MoaModel.load(dir)) {
            IllegalArgumentException range = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(new long[][] {{1, 2, 65}}, false));
            assertTrue(range.getMessage().contains("token id 65") && range.getMessage().contains("[0, 65)"));
            assertThrows(IllegalArgumentException.class, () -> model.forward(new long[][] {{-1}}, false));
            IllegalArgumentException tooLong = assertThrows(IllegalArgumentException.class,
                    () -> model.forward(new long[][] {new long[129]}, false));
            assertTrue(tooLong.getMessage().contains("seq_len 128"), tooLong.getMessage());
        }
    }
}
