package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.engine.FinishReason;
import dev.moaserve.engine.InferenceRequest;
import dev.moaserve.engine.SamplingParams;
import dev.moaserve.model.DecodeMode;
import dev.moaserve.engine.TokenListener;
import dev.moaserve.model.Tokenizer;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Hugging Face TGI's {@code /generate} and {@code /generate_stream}: {"inputs", "parameters"} in;
 * {@code generated_text} and {@code details} out, or one event per token whose last one carries
 * the whole text. Validation errors answer 422 ({@link ErrorShape#TGI}).
 */
final class TgiProtocol implements Protocol {
    private static final Set<String> BODY = Set.of("inputs", "parameters", "stream");
    private static final Set<String> PARAMETERS = Set.of("do_sample", "max_new_tokens", "repetition_penalty",
            "frequency_penalty", "seed", "stop", "temperature", "top_k", "top_p", "details", "return_full_text",
            "decoder_input_details", "watermark", "best_of", "top_n_tokens", "truncate", "typical_p", "grammar",
            "moa_decode", "return_routing", "routing_start");
    private static final Map<String, String> UNSUPPORTED = Map.of("adapter_id", "adapters are not implemented");

    @Override
    public String name() {
        return "tgi";
    }

    @Override
    public String idPrefix() {
        return "gen-";
    }

    @Override
    public ErrorShape errors() {
        return ErrorShape.TGI;
    }

    @Override
    public GenerationSpec parse(JsonNode body, ServedModel model, boolean stream) {
        JsonFields b = new JsonFields(body, "", BODY, Map.of());
        String text = b.string("inputs", null);
        if (text == null) {
            throw ApiException.invalid("inputs", "'inputs' must be a string");
        }
        b.bool("stream", stream);
        JsonFields p = new JsonFields(b.raw("parameters") == null ? Json.object() : b.raw("parameters"), "parameters.",
                PARAMETERS, UNSUPPORTED);
        p.bool("details", true);
        RequestFields.requireValue(p, "decoder_input_details", false, "prompt details are not implemented");
        RequestFields.requireValue(p, "watermark", false, "watermarking is not implemented");
        if (p.integer("best_of", 1, 1, 128) != 1) {
            throw ApiException.invalid("parameters.best_of", "only best_of = 1 is supported");
        }
        if (p.integer("top_n_tokens", 0, 0, 20) != 0) {
            throw ApiException.invalid("parameters.top_n_tokens", "'parameters.top_n_tokens' is not supported");
        }
        if (p.has("truncate")) {
            throw ApiException.invalid("parameters.truncate", "'parameters.truncate' is not supported: prompts are never truncated");
        }
        if (p.has("typical_p")) {
            throw ApiException.invalid("parameters.typical_p", "'parameters.typical_p' is not supported: typical sampling is not implemented");
        }
        long[] ids = RequestFields.encode(text, model, "inputs");
        int seqLen = model.contextLength();
        int max = (int) p.integer("max_new_tokens", 20, 1, Integer.MAX_VALUE);
        if (ids.length + max > seqLen) {
            throw ApiException.invalid("parameters.max_new_tokens", "`inputs` tokens + `max_new_tokens` must be <= " + seqLen
                    + ". Given: " + ids.length + " `inputs` tokens and " + max + " `max_new_tokens`");
        }
        boolean sample = p.bool("do_sample", false);
        double temperature = p.number("temperature", 1.0, 0, 100);
        if (p.has("temperature") && temperature <= 0) {
            throw ApiException.invalid("parameters.temperature", "`temperature` must be strictly positive");
        }
        double topP = p.number("top_p", 1.0, 0, 1);
        if (p.has("top_p") && (topP <= 0 || topP >= 1)) {
            throw ApiException.invalid("parameters.top_p", "`top_p` must be > 0.0 and < 1.0");
        }
        int topK = (int) p.integer("top_k", 0, 1, Integer.MAX_VALUE);
        // TGI samples when asked to or when any sampling parameter is given
        boolean sampled = sample || p.has("temperature") || p.has("top_p") || p.has("top_k");
        SamplingParams sp = SamplingParams.builder()
                .temperature(sampled ? temperature : 0).topK(topK).topP(topP)
                .repetitionPenalty(p.number("repetition_penalty", 1.0, 1e-6, 100))
                .frequencyPenalty(p.number("frequency_penalty", 0, -2, 2))
                .seed(RequestFields.seed(p, 0)).maxTokens(max).stop(RequestFields.stops(p.raw("stop"), "parameters.stop"))
                .logprobs(1)
                .build();
        DecodeMode decode = RequestFields.decodeMode(p, model);
        InferenceRequest.Builder request = InferenceRequest.builder(ids, sp).decode(decode);
        RequestFields.routingStart(p, model, decode).ifPresent(request::routingFrom);
        return new GenerationSpec(request.build(), new GenerationSpec.AnswerOptions(text, stream, false, false,
                p.bool("return_full_text", false), null, null, null)).constrained(ConstraintRequests.tgi(p.raw("grammar")));
    }

    @Override
    public Renderer renderer(Reply reply) {
        return new TgiRenderer(reply);
    }

    /** TGI's stream holds one token event back: its last one carries generated_text and details. */
    private static final class TgiRenderer implements Renderer {
        private final Reply reply;
        private TokenEvent pending;
        private int pendingIndex;

        TgiRenderer(Reply reply) {
            this.reply = reply;
        }

        @Override
        public List<Object> open() {
            return List.of();
        }

        @Override
        public List<Object> token(ChoiceOutput c, TokenEvent t) {
            List<Object> out = List.of();
            if (pending != null) {
                ObjectNode o = Json.object();
                o.put("index", pendingIndex);
                o.set("token", token(pending));
                o.putNull("generated_text");
                o.putNull("details");
                out = List.of(o);
            }
            if (t.token() >= 0) {
                pending = t;
                pendingIndex = c.tokens().size(); // 1-based: t was just added
            }
            return out;
        }

        @Override
        public List<Object> choiceEnd(ChoiceOutput c) {
            ObjectNode t = Json.object();
            t.put("index", c.tokens().size());
            t.set("token", pending == null ? Json.object() : token(pending));
            t.put("generated_text", reply.fullText(c.text().toString()));
            t.set("details", details(c, false));
            if (c.routing() != null) {
                t.set("routing", c.routing());
            }
            return List.of(t);
        }

        @Override
        public List<Object> close() {
            return List.of();
        }

        @Override
        public List<Object> error(ApiException e) {
            return List.of(ErrorShape.TGI.body(e));
        }

        @Override
        public ObjectNode body() {
            ChoiceOutput c = reply.choices().get(0);
            ObjectNode o = Json.object();
            o.put("generated_text", reply.fullText(c.finish().text()));
            o.set("details", details(c, true));
            if (c.routing() != null) {
                o.set("routing", c.routing());
            }
            return o;
        }

        private static ObjectNode token(TokenEvent t) {
            ObjectNode tok = Json.object();
            tok.put("id", t.token());
            tok.put("text", t.text());
            tok.put("logprob", t.choice() == null ? 0.0 : t.choice().logprob());
            tok.put("special", false);
            return tok;
        }

        private ObjectNode details(ChoiceOutput c, boolean withTokens) {
            TokenListener.Finish f = c.finish();
            ObjectNode d = Json.object();
            d.put("finish_reason", f.reason() == FinishReason.STOP ? "stop_sequence" : "length");
            d.put("generated_tokens", f.completionTokens());
            d.put("seed", c.seed());
            if (withTokens) {
                d.putArray("prefill");
                ArrayNode arr = d.putArray("tokens");
                Tokenizer tk = reply.model().tokenizer();
                for (TokenEvent t : c.tokens()) {
                    ObjectNode tok = arr.addObject();
                    tok.put("id", t.token());
                    tok.put("text", tk.tokenText(t.token()));
                    tok.put("logprob", t.choice().logprob());
                    tok.put("special", false);
                }
            }
            return d;
        }
    }
}
