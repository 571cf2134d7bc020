package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

/**
 * OpenAI's {@code POST /v1/embeddings}: {@code input} as a string, an array of strings, an array
 * of token ids or an array of such arrays; {@code encoding_format} float or base64 (little-endian
 * float32, as OpenAI's clients decode it); {@code dimensions} only if equal to the model's.
 */
final class OpenAiEmbeddings implements EmbeddingProtocol {
    private static final Set<String> FIELDS = Set.of("input", "model", "encoding_format", "dimensions", "user", "priority");

    @Override
    public ErrorShape errors() {
        return ErrorShape.OPENAI;
    }

    @Override
    public EmbeddingSpec parse(JsonNode body, ServedModel model, Limits limits) {
        JsonFields f = new JsonFields(body, "", FIELDS, Map.of());
        var inputs = EmbeddingInputs.of(f.raw("input"), "input", model, limits.maxRequestTokens());
        String format = f.string("encoding_format", "float");
        if (!format.equals("float") && !format.equals("base64")) {
            throw ApiException.invalid("encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
        }
        if (f.has("dimensions") && f.integer("dimensions", 0, 1, Integer.MAX_VALUE) != limits.dimensions()) {
            throw ApiException.invalid("dimensions", "this model's embeddings have " + limits.dimensions()
                    + " dimensions and cannot be shortened; omit 'dimensions' or send " + limits.dimensions());
        }
        f.string("model", "");
        f.string("user", "");
        return new EmbeddingSpec(inputs, RequestFields.priority(f, model), format.equals("base64"));
    }

    @Override
    public JsonNode body(EmbeddingSpec spec, float[][] vectors, String model) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("object", "list");
        ArrayNode data = root.putArray("data");
        for (int i = 0; i < vectors.length; i++) {
            ObjectNode e = data.addObject();
            e.put("object", "embedding");
            e.put("index", i);
            if (spec.base64()) {
                ByteBuffer b = ByteBuffer.allocate(4 * vectors[i].length).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : vectors[i]) {
                    b.putFloat(x);
                }
                e.put("embedding", Base64.getEncoder().encodeToString(b.array()));
            } else {
                ArrayNode v = e.putArray("embedding");
                for (float x : vectors[i]) {
                    v.add(x);
                }
            }
        }
        root.put("model", model);
        int tokens = spec.tokens();
        root.putObject("usage").put("prompt_tokens", tokens).put("total_tokens", tokens);
        return root;
    }
}
