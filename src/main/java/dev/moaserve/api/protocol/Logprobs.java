package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.List;

/** The {@code logprobs} objects of OpenAI's completions (legacy shape) and chat completions. */
final class Logprobs {
    private Logprobs() {}

    /**
     * Completions: {@code tokens}, {@code token_logprobs}, {@code top_logprobs} (token text → logprob)
     * and {@code text_offset} of each token in {@code text}, whose end the tokens are.
     */
    static ObjectNode completion(Tokenizer tk, CharSequence text, List<TokenEvent> ts) {
        ObjectNode lp = Json.object();
        ArrayNode toks = lp.putArray("tokens");
        ArrayNode values = lp.putArray("token_logprobs");
        ArrayNode tops = lp.putArray("top_logprobs");
        ArrayNode offsets = lp.putArray("text_offset");
        int at = text.length() - ts.stream().mapToInt(t -> tk.tokenText(t.token()).length()).sum();
        for (TokenEvent t : ts) {
            String s = tk.tokenText(t.token());
            toks.add(s);
            values.add(t.choice().logprob());
            ObjectNode top = tops.addObject();
            for (int i = 0; i < t.choice().topTokens().length; i++) {
                top.put(tk.tokenText(t.choice().topTokens()[i]), t.choice().topLogprobs()[i]);
            }
            offsets.add(Math.max(0, at));
            at += s.length();
        }
        return lp;
    }

    /**
     * Completions with {@code echo} and {@code logprobs}: the prompt's tokens with their
     * log-probabilities ({@code null} for the first, which nothing predicts), offsets from the start
     * of the echoed text, then the completion's ({@code completion}, whose offsets are already
     * measured from the start of the echoed text).
     */
    static ObjectNode echoed(Tokenizer tk, long[] prompt, dev.moaserve.engine.PromptScorer.Scores s, ObjectNode completion) {
        ObjectNode lp = Json.object();
        ArrayNode toks = lp.putArray("tokens");
        ArrayNode values = lp.putArray("token_logprobs");
        ArrayNode tops = lp.putArray("top_logprobs");
        ArrayNode offsets = lp.putArray("text_offset");
        int at = 0;
        for (int t = 0; t < prompt.length; t++) {
            String text = tk.tokenText((int) prompt[t]);
            toks.add(text);
            offsets.add(at);
            at += text.length();
            if (t == 0) {
                values.addNull();
                tops.addNull();
                continue;
            }
            values.add(s.logprobs()[t]);
            ObjectNode top = tops.addObject();
            for (int i = 0; i < s.topTokens()[t].length; i++) {
                top.put(tk.tokenText(s.topTokens()[t][i]), s.topLogprobs()[t][i]);
            }
        }
        if (completion != null) {
            for (String k : new String[] {"tokens", "token_logprobs", "top_logprobs", "text_offset"}) {
                ((ArrayNode) lp.get(k)).addAll((ArrayNode) completion.get(k));
            }
        }
        return lp;
    }

    /** Chat: {@code content} entries of token, logprob, UTF-8 bytes and the top alternatives; {@code refusal} null. */
    static ObjectNode chat(Tokenizer tk, List<TokenEvent> ts) {
        ObjectNode lp = Json.object();
        ArrayNode content = lp.putArray("content");
        for (TokenEvent t : ts) {
            ObjectNode c = entry(tk.tokenText(t.token()), t.choice().logprob());
            ArrayNode top = c.putArray("top_logprobs");
            for (int i = 0; i < t.choice().topTokens().length; i++) {
                top.add(entry(tk.tokenText(t.choice().topTokens()[i]), t.choice().topLogprobs()[i]));
            }
            content.add(c);
        }
        lp.putNull("refusal");
        return lp;
    }

    private static ObjectNode entry(String token, double logprob) {
        ObjectNode c = Json.object();
        c.put("token", token);
        c.put("logprob", logprob);
        ArrayNode bytes = c.putArray("bytes");
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        return c;
    }
}
