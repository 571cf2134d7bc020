package dev.moaserve.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * The constructor arguments of the reference {@code Transformer} plus its router settings, as
 * stored in {@code config.json}. Missing optional keys take the reference defaults.
 *
 * @param routedWindowSize w; {@code null} in the file means "same as the local window"
 */
public record ModelConfig(
        int numTokens,
        int dim,
        int depth,
        int seqLen,
        int localAttnWindowSize,
        int routedWindowSize,
        int numRoutedQueries,
        int numRoutedKeyValues,
        int numExperts,
        int dimHead,
        int heads,
        int ffMult,
        boolean cosineSimRouting,
        double fetchKRatio,
        int routerNIters,
        double routerEps,
        double routerEpsInit,
        double routerEpsDecay,
        double cosineSimScale) {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Keys that describe the file rather than the model; accepted and ignored. */
    private static final Set<String> METADATA_KEYS = Set.of(
            "model_type", "architectures", "torch_dtype", "transformers_version", "name", "straight_through");

    public ModelConfig {
        requirePositive("num_tokens", numTokens);
        requirePositive("dim", dim);
        requirePositive("depth", depth);
        requirePositive("seq_len", seqLen);
        requirePositive("local_attn_window_size", localAttnWindowSize);
        requirePositive("routed_window_size", routedWindowSize);
        requirePositive("num_routed_queries", numRoutedQueries);
        requirePositive("num_routed_key_values", numRoutedKeyValues);
        requirePositive("num_experts", numExperts);
        requirePositive("dim_head", dimHead);
        requirePositive("heads", heads);
        requirePositive("ff_mult", ffMult);
        requirePositive("router_n_iters", routerNIters);
        if (dimHead % 2 != 0) {
            throw new ModelException("config: dim_head must be even for rotary embeddings, got " + dimHead);
        }
        if (fetchKRatio < 1.0) {
            throw new ModelException("config: fetch_k_ratio must be >= 1, got " + fetchKRatio);
        }
        if (!(routerEps > 0) || !(routerEpsInit > 0) || !(routerEpsDecay > 0)) {
            throw new ModelException("config: router_eps, router_eps_init and router_eps_decay must be > 0");
        }
    }

    /** A config by name: the sizes given, the router settings at the reference's defaults unless set. */
    public static Builder builder() {
        return new Builder();
    }

    /** Named fields for {@link ModelConfig}; router settings default to the reference's. */
    public static final class Builder {
        private int vocab = 1;
        private int dim = 1;
        private int depth = 1;
        private int seqLen = 1;
        private int localWindow = 1;
        private int routedWindow = 1;
        private int routedQueries = 1;
        private int routedKeyValues = 1;
        private int experts = 2;
        private int dimHead = 2;
        private int heads = 1;
        private int ffMult = 4;
        private boolean cosineRouting = true;
        private double fetchKRatio = 1.0;
        private int routerIters = 20;
        private double routerEps = 0.03;
        private double routerEpsInit = 4.0;
        private double routerEpsDecay = 0.7;
        private double cosineScale = 8.0;

        private Builder() {}

        public Builder vocab(int v) { vocab = v; return this; }
        public Builder dim(int v) { dim = v; return this; }
        public Builder depth(int v) { depth = v; return this; }
        public Builder seqLen(int v) { seqLen = v; return this; }
        /** W: local attention sees the W positions before a query. */
        public Builder localWindow(int v) { localWindow = v; return this; }
        /** w: the routed window. */
        public Builder routedWindow(int v) { routedWindow = v; return this; }
        /** k_q: queries each expert routes per window. */
        public Builder routedQueries(int v) { routedQueries = v; return this; }
        /** k_kv: keys/values each expert keeps. */
        public Builder routedKeyValues(int v) { routedKeyValues = v; return this; }
        public Builder experts(int v) { experts = v; return this; }
        public Builder dimHead(int v) { dimHead = v; return this; }
        public Builder heads(int v) { heads = v; return this; }
        public Builder ffMult(int v) { ffMult = v; return this; }
        public Builder cosineRouting(boolean v) { cosineRouting = v; return this; }
        public Builder fetchKRatio(double v) { fetchKRatio = v; return this; }
        public Builder routerIters(int v) { routerIters = v; return this; }
        public Builder routerEps(double v) { routerEps = v; return this; }
        public Builder routerEpsInit(double v) { routerEpsInit = v; return this; }
        public Builder routerEpsDecay(double v) { routerEpsDecay = v; return this; }
        public Builder cosineScale(double v) { cosineScale = v; return this; }

        public ModelConfig build() {
            return new ModelConfig(vocab, dim, depth, seqLen, localWindow, routedWindow, routedQueries, routedKeyValues,
                    experts, dimHead, heads, ffMult, cosineRouting, fetchKRatio, routerIters, routerEps, routerEpsInit,
                    routerEpsDecay, cosineScale);
        }
    }

    /** Inner width of one attention block: heads × dim_head. */
    public int inner() {
        return heads * dimHead;
    }

    /** The hidden width of the feed-forward: dim × ff_mult. */
    public int ffDim() {
        return dim * ffMult;
    }

    public static ModelConfig parse(byte[] json, String source) {
        ObjectNode root = object(json, source);
        if (EncoderConfig.MODEL_TYPE.equals(root.path("model_type").asText(""))) {
            throw new ModelException(source + ": model_type '" + EncoderConfig.MODEL_TYPE
                    + "' is an encoder, not an autoregressive model");
        }
        Reader r = new Reader(root, source);
        int local = r.integer("local_attn_window_size", null);
        Integer routed = r.optionalInteger("routed_window_size");
        ModelConfig config = read(r, source, local, routed == null ? local : routed, true);
        r.rejectUnknown();
        return config;
    }

    /**
     * The sizes every MoA config names, with the windows given: the reader's keys, reference
     * defaults for the optional ones (cosine routing's default differs between the modules).
     */
    static ModelConfig read(Reader r, String source, int localWindow, int routedWindow, boolean cosineDefault) {
        try {
            return new ModelConfig(
                    r.integer("num_tokens", null),
                    r.integer("dim", null),
                    r.integer("depth", null),
                    r.integer("seq_len", null),
                    localWindow,
                    routedWindow,
                    r.integer("num_routed_queries", null),
                    r.integer("num_routed_key_values", null),
                    r.integer("num_experts", null),
                    r.integer("dim_head", 64),
                    r.integer("heads", 8),
                    r.integer("ff_mult", 4),
                    r.bool("cosine_sim_routing", cosineDefault),
                    r.number("fetch_k_ratio", 9.0 / 8.0),
                    r.integer("router_n_iters", 20),
                    r.number("router_eps", 0.03),
                    r.number("router_eps_init", 4.0),
                    r.number("router_eps_decay", 0.7),
                    r.number("cosine_sim_scale", 8.0));
        } catch (ModelException e) {
            throw new ModelException(source + ": " + e.getMessage().replaceFirst("^config: ", ""), e);
        }
    }

    /** The JSON object of a config file. */
    static ObjectNode object(byte[] json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new ModelException(source + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new ModelException(source + ": must be a JSON object");
        }
        return (ObjectNode) root;
    }

    /** {@code model_type} of a config file, or "" when it names none (autoregressive MoA). */
    public static String modelType(byte[] json, String source) {
        return object(json, source).path("model_type").asText("");
    }

    /** The config as the reference writes it (snake_case keys). */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("num_tokens", numTokens);
        o.put("dim", dim);
        o.put("depth", depth);
        o.put("seq_len", seqLen);
        o.put("local_attn_window_size", localAttnWindowSize);
        o.put("routed_window_size", routedWindowSize);
        o.put("num_routed_queries", numRoutedQueries);
        o.put("num_routed_key_values", numRoutedKeyValues);
        o.put("num_experts", numExperts);
        o.put("dim_head", dimHead);
        o.put("heads", heads);
        o.put("ff_mult", ffMult);
        o.put("cosine_sim_routing", cosineSimRouting);
        o.put("fetch_k_ratio", fetchKRatio);
        o.put("router_n_iters", routerNIters);
        o.put("router_eps", routerEps);
        o.put("router_eps_init", routerEpsInit);
        o.put("router_eps_decay", routerEpsDecay);
        o.put("cosine_sim_scale", cosineSimScale);
        return o;
    }

    private static void requirePositive(String key, int value) {
        if (value < 1) {
            throw new ModelException("config: " + key + " must be >= 1, got " + value);
        }
    }

    /** Typed access to the JSON keys, remembering which were used so unknown ones are caught. */
    static final class Reader {
        private final ObjectNode node;
        private final String source;
        private final java.util.Set<String> seen = new java.util.HashSet<>();

        Reader(ObjectNode node, String source) {
            this.node = node;
            this.source = source;
        }

        int integer(String key, Integer fallback) {
            Integer v = optionalInteger(key);
            if (v == null) {
                if (fallback == null) {
                    throw new ModelException(source + ": missing required key '" + key + "'");
                }
                return fallback;
            }
            return v;
        }

        Integer optionalInteger(String key) {
            JsonNode v = get(key);
            if (v == null) {
                return null;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new ModelException(source + ": key '" + key + "' must be an integer, got " + v);
            }
            return v.intValue();
        }

        double number(String key, double fallback) {
            JsonNode v = get(key);
            if (v == null) {
                return fallback;
            }
            if (!v.isNumber()) {
                throw new ModelException(source + ": key '" + key + "' must be a number, got " + v);
            }
            return v.doubleValue();
        }

        boolean bool(String key, boolean fallback) {
            JsonNode v = get(key);
            if (v == null) {
                return fallback;
            }
            if (!v.isBoolean()) {
                throw new ModelException(source + ": key '" + key + "' must be true or false, got " + v);
            }
            return v.booleanValue();
        }

        private JsonNode get(String key) {
            seen.add(key);
            JsonNode v = node.get(key);
            return v == null || v.isNull() ? null : v;
        }

        void rejectUnknown() {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                String key = it.next().getKey();
                if (!seen.contains(key) && !METADATA_KEYS.contains(key) && !key.startsWith("_")) {
                    throw new ModelException(source + ": unknown key '" + key + "'");
                }
            }
        }
    }
}
