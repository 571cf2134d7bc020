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
    /**
     * Chat template of the character-level play models: each message as a speech in a play
     * ("ROLE:\ntext\n\n"), then the assistant's cue; a blank line ends the assistant's speech.
     */
    public static final String DEFAULT_CHAT_TEMPLATE = "{\"message\": \"{ROLE}:\\n{content}\\n\\n\", "
            + "\"generation_prompt\": \"ASSISTANT:\\n\", \"stop\": [\"\\n\\n\"]}\n";

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
        Files.writeString(dir.resolve("chat_template.json"), DEFAULT_CHAT_TEMPLATE, StandardCharsets.UTF_8);
    }
}
