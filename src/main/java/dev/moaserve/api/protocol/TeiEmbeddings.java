package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;

import java.util.Map;
import java.util.Set;

/**
 * TEI's {@code POST /embed}: {"inputs": string | [strings], "normalize": true, "truncate": false}
 * → [[floats], …]; errors in TEI's shape (422 for invalid input).
 */
final class TeiEmbeddings implements EmbeddingProtocol {
    private static final Set<String> FIELDS = Set.of("inputs", "normalize", "truncate");

    @Override
    public ErrorShape errors() {
        return ErrorShape.TGI;
    }

    @Override
    public EmbeddingSpec parse(JsonNode body, ServedModel model, Limits limits) {
        JsonFields f = new JsonFields(body, "", FIELDS, Map.of());
        JsonNode in = f.raw("inputs");
        if (in == null || !(in.isTextual() || in.isArray() && !in.isEmpty() && in.get(0).isTextual())) {
            throw ApiException.invalid("inputs", "'inputs' must be a string or an array of strings");
        }
        if (!f.bool("normalize", true)) {
            throw ApiException.invalid("normalize", "'normalize': false is not supported: vectors are always L2-normalised");
        }
        if (f.bool("truncate", false)) {
            throw ApiException.invalid("truncate", "'truncate' is not supported: inputs are never truncated");
        }
        return new EmbeddingSpec(EmbeddingInputs.of(in, "inputs", model, limits.maxRequestTokens()), 0, false);
    }

    @Override
    public JsonNode body(EmbeddingSpec spec, float[][] vectors, String model) {
        ArrayNode root = Json.MAPPER.createArrayNode();
        for (float[] vector : vectors) {
            ArrayNode v = root.addArray();
            for (float x : vector) {
                v.add(x);
            }
        }
        return root;
    }
}
