package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.DecodeMode;

import java.util.List;
import java.util.Map;
import java.util.Set;

/** OpenAI's {@code /v1/completions}: a prompt (text or token ids) in, text (and legacy logprobs) out. */
final class CompletionsProtocol extends OpenAiProtocol {
    private static final Set<String> FIELDS = RequestFields.union(SAMPLING, "prompt", "echo", "best_of", "suffix",
            "response_format", "structured_outputs");

    @Override
    public String name() {
        return "completions";
    }

    @Override
    public String idPrefix() {
        return "cmpl-";
    }

    @Override
    public GenerationSpec parse(JsonNode body, ServedModel model, boolean stream) {
        JsonFields f = new JsonFields(body, "", FIELDS, Map.of());
        RequestFields.checkModel(f, model);
        if (f.has("best_of") && f.integer("best_of", 1, 1, RequestFields.MAX_N) != RequestFields.n(f)) {
            throw ApiException.invalid("best_of", "best_of must equal n: choosing the best of several is not implemented");
        }
        if (!f.string("suffix", "").isEmpty()) {
            throw ApiException.invalid("suffix", "'suffix' is not supported by this server: insertion is not implemented");
        }
        int logprobs = (int) f.integer("logprobs", 0, 0, 5);
        boolean echo = f.bool("echo", false);
        boolean scored = echo && f.has("logprobs"); // the prompt's tokens come back with their log-probabilities
        JsonNode p = f.raw("prompt");
        String text;
        long[] ids;
        if (p == null) {
            throw ApiException.invalid("prompt", "'prompt' is required");
        } else if (p.isTextual()) {
            text = p.asText();
            ids = RequestFields.encode(text, model, "prompt");
        } else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            text = p.get(0).asText();
            ids = RequestFields.encode(text, model, "prompt");
        } else if (p.isArray() && p.size() > 0 && p.get(0).isNumber()
                || p.isArray() && p.size() == 1 && p.get(0).isArray() && !p.get(0).isEmpty()) {
            JsonNode list = p.get(0).isArray() ? p.get(0) : p; // a list of one token-id list, as lm-eval sends one prompt
            ids = new long[list.size()];
            for (int i = 0; i < ids.length; i++) {
                if (!JsonFields.isInteger(list.get(i))) {
                    throw ApiException.invalid("prompt", "'prompt' token array must hold only integers (token ids)");
                }
                ids[i] = list.get(i).asLong();
            }
            text = model.tokenizer().decode(RequestFields.checkIds(ids, model, "prompt"));
        } else if (p.isArray() && p.size() > 1 && (p.get(0).isTextual() || p.get(0).isArray())) {
            throw ApiException.invalid("prompt", "one prompt per request: 'prompt' lists " + p.size() + " prompts");
        } else {
            throw ApiException.invalid("prompt", "'prompt' must be a string, a list with one string, a list of token ids, "
                    + "or a list with one list of token ids");
        }
        GenerationSpec spec = spec(f, model, new Prompt(text, ids, echo, scored), new Route("prompt", 16, List.of(), logprobs, false));
        if (scored && spec.request().decode() == DecodeMode.FROZEN) {
            throw ApiException.invalid("echo", "prompt log-probabilities ('echo' with 'logprobs') are computed under exact "
                    + "decoding only");
        }
        if (scored && spec.request().params().maxTokens() == 0 && spec.answer().stream()) {
            throw ApiException.invalid("stream", "'max_tokens': 0 (scoring the prompt only) is not streamed");
        }
        return spec;
    }

    @Override
    public Renderer renderer(Reply reply) {
        return new OpenAiRenderer(reply) {
            @Override
            String object(boolean chunk) {
                return "text_completion";
            }

            @Override
            ObjectNode openChoice(ObjectNode chunk, ObjectNode choice, ChoiceOutput c) {
                if (!reply.spec().answer().echo()) {
                    return null;
                }
                choice.put("text", reply.spec().answer().promptText());
                if (reply.promptScores() != null) {
                    choice.set("logprobs", Logprobs.echoed(reply.model().tokenizer(), reply.spec().request().prompt(),
                            reply.promptScores(), null));
                }
                return chunk;
            }

            @Override
            void tokenContent(ObjectNode choice, ChoiceOutput c, TokenEvent t) {
                choice.put("text", t.text());
                choice.set("logprobs", withLogprobs() && t.choice() != null
                        ? Logprobs.completion(reply.model().tokenizer(), shown(c), List.of(t)) : null);
            }

            @Override
            void endContent(ObjectNode choice) {
                choice.put("text", "");
            }

            @Override
            void bodyContent(ObjectNode choice, ChoiceOutput c) {
                choice.put("text", reply.fullText(c.finish().text()));
                if (!withLogprobs()) {
                    choice.putNull("logprobs");
                    return;
                }
                ObjectNode generated = Logprobs.completion(reply.model().tokenizer(), shown(c), c.tokens());
                choice.set("logprobs", reply.promptScores() == null ? generated
                        : Logprobs.echoed(reply.model().tokenizer(), reply.spec().request().prompt(), reply.promptScores(), generated));
            }

            /** Per-token logprobs asked for: {@code logprobs} > 0, or any {@code logprobs} with {@code echo}. */
            private boolean withLogprobs() {
                return reply.spec().request().params().logprobs() > 0 || reply.spec().request().scorePrompt().isPresent();
            }

            /** The text the answer shows up to now: offsets count from its start (the prompt too, when echoed). */
            private CharSequence shown(ChoiceOutput c) {
                return reply.spec().answer().echo() ? reply.spec().answer().promptText() + c.text() : c.text();
            }
        };
    }
}
