package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.DecodeMode;

import java.util.ArrayList;
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
    public List<GenerationSpec> parseAll(JsonNode body, ServedModel model, boolean stream) {
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
        List<Prompt> prompts = prompts(f.raw("prompt"), model, echo, scored);
        List<GenerationSpec> specs = new ArrayList<>();
        for (Prompt prompt : prompts) {
            GenerationSpec spec = spec(f, model, prompt, new Route("prompt", 16, List.of(), logprobs, false));
            if (scored && spec.request().decode() == DecodeMode.FROZEN) {
                throw ApiException.invalid("echo", "prompt log-probabilities ('echo' with 'logprobs') are computed under exact "
                        + "decoding only");
            }
            if (scored && spec.request().params().maxTokens() == 0 && spec.answer().stream()) {
                throw ApiException.invalid("stream", "'max_tokens': 0 (scoring the prompt only) is not streamed");
            }
            specs.add(spec);
        }
        return specs;
    }

    /** One prompt, as every route but this one takes it. */
    @Override
    public GenerationSpec parse(JsonNode body, ServedModel model, boolean stream) {
        List<GenerationSpec> all = parseAll(body, model, stream);
        if (all.size() != 1) {
            throw ApiException.invalid("prompt", "one prompt expected, got " + all.size());
        }
        return all.get(0);
    }

    /**
     * {@code prompt} as OpenAI takes it: a string, a list of strings, a list of token ids, or a
     * list of token-id lists; at most {@code moa.max-prompts-per-request} prompts.
     */
    private static List<Prompt> prompts(JsonNode p, ServedModel model, boolean echo, boolean scored) {
        if (p == null) {
            throw ApiException.invalid("prompt", "'prompt' is required");
        }
        if (p.isTextual()) {
            return List.of(text(p.asText(), model, echo, scored));
        }
        if (!p.isArray() || p.isEmpty()) {
            throw ApiException.invalid("prompt", "'prompt' must be a string, a list of strings, a list of token ids, "
                    + "or a list of token-id lists");
        }
        if (p.get(0).isNumber()) {
            return List.of(ids(p, model, echo, scored));
        }
        if (p.size() > model.maxPromptsPerRequest()) {
            throw ApiException.invalid("prompt", "at most " + model.maxPromptsPerRequest() + " prompts per request "
                    + "(moa.max-prompts-per-request), got " + p.size());
        }
        List<Prompt> out = new ArrayList<>();
        for (JsonNode one : p) {
            if (one.isTextual() && p.get(0).isTextual()) {
                out.add(text(one.asText(), model, echo, scored));
            } else if (one.isArray() && !one.isEmpty() && p.get(0).isArray()) {
                out.add(ids(one, model, echo, scored));
            } else {
                throw ApiException.invalid("prompt", "'prompt' lists must hold only strings, or only non-empty token-id lists");
            }
        }
        return out;
    }

    private static Prompt text(String text, ServedModel model, boolean echo, boolean scored) {
        return new Prompt(text, RequestFields.encode(text, model, "prompt"), echo, scored);
    }

    private static Prompt ids(JsonNode list, ServedModel model, boolean echo, boolean scored) {
        long[] ids = new long[list.size()];
        for (int i = 0; i < ids.length; i++) {
            if (!JsonFields.isInteger(list.get(i))) {
                throw ApiException.invalid("prompt", "'prompt' token array must hold only integers (token ids)");
            }
            ids[i] = list.get(i).asLong();
        }
        return new Prompt(model.tokenizer().decode(RequestFields.checkIds(ids, model, "prompt")), ids, echo, scored);
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
                choice.put("text", c.part().answer().promptText());
                if (c.promptScores() != null) {
                    choice.set("logprobs", Logprobs.echoed(reply.model().tokenizer(), c.part().request().prompt(),
                            c.promptScores(), null));
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
                choice.put("text", c.part().fullText(c.finish().text()));
                if (!withLogprobs()) {
                    choice.putNull("logprobs");
                    return;
                }
                ObjectNode generated = Logprobs.completion(reply.model().tokenizer(), shown(c), c.tokens());
                choice.set("logprobs", c.promptScores() == null ? generated
                        : Logprobs.echoed(reply.model().tokenizer(), c.part().request().prompt(), c.promptScores(), generated));
            }

            /** Per-token logprobs asked for: {@code logprobs} > 0, or any {@code logprobs} with {@code echo}. */
            private boolean withLogprobs() {
                return reply.spec().request().params().logprobs() > 0 || reply.spec().request().scorePrompt().isPresent();
            }

            /** The text the answer shows up to now: offsets count from its start (the prompt too, when echoed). */
            private CharSequence shown(ChoiceOutput c) {
                return reply.spec().answer().echo() ? c.part().answer().promptText() + c.text() : c.text();
            }
        };
    }
}
