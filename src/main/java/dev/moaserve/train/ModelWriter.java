package dev.moaserve.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.CharTokenizer;
import dev.moaserve.model.EncoderWeights;
import dev.moaserve.model.MoaWeights;
import dev.moaserve.model.Safetensors;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Writes a model directory that both moa-serve and the PyTorch reference can load. */
public final class ModelWriter {
    /**
     * Chat template of the character-level play models: each message as a speech in a play
     * ("ROLE:\ntext\n\n"), then the assistant's cue; a blank line ends the assistant's speech.
     */
    public static final String DEFAULT_CHAT_TEMPLATE = "{\"message\": \"{ROLE}:\\n{content}\\n\\n\", "
            + "\"generation_prompt\": \"ASSISTANT:\\n\", \"stop\": [\"\\n\\n\"]}\n";

    private static final ObjectMapper JSON = new ObjectMapper();

    private ModelWriter() {}

    public static void write(Path dir, MoaWeights weights, CharTokenizer tokenizer, boolean half,
                             Map<String, String> metadata) throws IOException {
        write(dir, weights.config().toJson(), weights.toTensors(half), tokenizer, metadata);
        Files.writeString(dir.resolve("chat_template.json"), DEFAULT_CHAT_TEMPLATE, StandardCharsets.UTF_8);
    }

    /** An encoder directory: config.json ({@code "model_type": "moa_encoder"}), weights, vocab.json. */
    public static void write(Path dir, EncoderWeights weights, CharTokenizer tokenizer, boolean half,
                             Map<String, String> metadata) throws IOException {
        write(dir, weights.config().toJson(), weights.toTensors(half), tokenizer, metadata);
    }

    private static void write(Path dir, ObjectNode config, List<Safetensors.Tensor> tensors, CharTokenizer tokenizer,
                              Map<String, String> metadata) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config) + "\n");
        Safetensors.write(dir.resolve("model.safetensors"), tensors, metadata);
        ObjectNode vocab = JSON.createObjectNode();
        vocab.put("type", "char");
        vocab.put("chars", tokenizer.chars());
        Files.writeString(dir.resolve("vocab.json"), JSON.writeValueAsString(vocab) + "\n", StandardCharsets.UTF_8);
    }
}
