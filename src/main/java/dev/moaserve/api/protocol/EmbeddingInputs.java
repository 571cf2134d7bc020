package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/** Embeddings inputs as token ids: strings are tokenized, ids are checked; each one non-empty and within the context. */
final class EmbeddingInputs {
    /** OpenAI's bound on the inputs of one request. */
    static final int MAX_INPUTS = 2048;

    private EmbeddingInputs() {}

    static List<long[]> of(JsonNode input, String param, ServedModel model, int maxTokens) {
        if (input == null) {
            throw ApiException.invalid(param, "'" + param + "' is required: a string, an array of strings, or token ids");
        }
        List<long[]> out = new ArrayList<>();
        if (input.isTextual()) {
            out.add(RequestFields.encode(input.asText(), model, param));
        } else if (input.isArray() && !input.isEmpty() && input.get(0).isTextual()) {
            for (JsonNode s : input) {
                if (!s.isTextual()) {
                    throw ApiException.invalid(param, "'input' mixes strings and other values");
                }
                out.add(RequestFields.encode(s.asText(), model, param));
            }
        } else if (input.isArray() && !input.isEmpty() && input.get(0).isArray()) {
            for (JsonNode ids : input) {
                out.add(ids(ids, model));
            }
        } else if (input.isArray() && !input.isEmpty()) {
            out.add(ids(input, model));
        } else {
            throw ApiException.invalid(param, "'input' must be a non-empty string, array of strings, array of token ids, "
                    + "or array of token-id arrays");
        }
        if (out.size() > MAX_INPUTS) {
            throw ApiException.invalid(param, "at most " + MAX_INPUTS + " inputs per request, got " + out.size());
        }
        long tokens = out.stream().mapToLong(a -> a.length).sum();
        if (tokens > maxTokens) {
            throw ApiException.invalid(param, "at most " + maxTokens + " tokens per request (moa.embeddings.max-request-tokens), got "
                    + tokens + " in " + out.size() + " inputs; send them in smaller requests");
        }
        int seqLen = model.contextLength();
        for (int i = 0; i < out.size(); i++) {
            long[] ids = out.get(i);
            if (ids.length == 0) {
                throw ApiException.invalid(param, "input " + i + " is empty");
            }
            if (ids.length > seqLen) {
                throw new ApiException(400, "invalid_request_error", "This model's maximum context length is " + seqLen
                        + " tokens, however you requested " + ids.length + " tokens (input " + i + "). Please reduce your input.",
                        param, "context_length_exceeded");
            }
        }
        return out;
    }

    private static long[] ids(JsonNode array, ServedModel model) {
        if (!array.isArray() || array.isEmpty()) {
            throw ApiException.invalid("input", "token-id inputs must be non-empty arrays of integers");
        }
        long[] ids = new long[array.size()];
        for (int i = 0; i < ids.length; i++) {
            if (!JsonFields.isInteger(array.get(i))) {
                throw ApiException.invalid("input", "token ids must be integers");
            }
            ids[i] = array.get(i).asLong();
        }
        return RequestFields.checkIds(ids, model, "input");
    }
}
