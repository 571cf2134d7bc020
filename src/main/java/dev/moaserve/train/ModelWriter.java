package dev.moaserve.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.CharTokenizer;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Safetensors;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/** Writes a model directory that both moa-serve and the PyTorch reference can load. */
public final class ModelWriter {
    /** Chat template of character-level models: plain "Role: text" turns, then the assistant's cue. */
    public static final String DEFAULT_CHAT_TEMPLATE = "{% for m in messages %}{{ m.role | capitalize }}: {{ m.content }}\n"
            + "{% endfor %}Assistant:";

    private ModelWriter() {}

    public static void write(Path dir, MoaWeights weights, CharTokenizer tokenizer, boolean half,
                             Map<String, String> metadata) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        Files.writeString(dir.resolve("config.json"),
                json.writerWithDefaultPrettyPrinter().writeValueAsString(weights.config().toJson()) + "\n");
        Safetensors.write(dir.resolve("model.safetensors"), weights.toTensors(half), metadata);
        ObjectNode vocab = json.createObjectNode();
        vocab.put("type", "char");
        vocab.put("chars", tokenizer.chars());
        Files.writeString(dir.resolve("vocab.json"), json.writeValueAsString(vocab) + "\n", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("chat_template.txt"), DEFAULT_CHAT_TEMPLATE, StandardCharsets.UTF_8);
    }
}
