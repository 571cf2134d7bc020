package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.List;

/**
 * One embeddings API: how its requests are validated and its answers rendered — OpenAI's
 * {@code /v1/embeddings} ({@link OpenAiEmbeddings}) and TEI's {@code /embed} ({@link TeiEmbeddings}).
 */
public interface EmbeddingProtocol {
    EmbeddingProtocol OPENAI = new OpenAiEmbeddings();
    EmbeddingProtocol TEI = new TeiEmbeddings();

    /**
     * A validated embeddings request.
     *
     * @param inputs   each input's token ids, in request order
     * @param priority its place in the worker's turns (lower first)
     * @param base64   OpenAI's {@code encoding_format: "base64"}
     */
    record EmbeddingSpec(List<long[]> inputs, int priority, boolean base64) {
        public int tokens() {
            return inputs.stream().mapToInt(a -> a.length).sum();
        }
    }

    /** What bounds one request: the model's vector size and the tokens one request may hold. */
    record Limits(int dimensions, int maxRequestTokens) {}

    ErrorShape errors();

    /** Validates a body strictly; {@link ApiException} naming the field otherwise. */
    EmbeddingSpec parse(JsonNode body, ServedModel model, Limits limits);

    /** The answer: one vector per input, in order. */
    JsonNode body(EmbeddingSpec spec, float[][] vectors, String model);
}
