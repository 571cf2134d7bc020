package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.engine.FinishReason;
import dev.moaserve.engine.TokenListener;

import java.util.ArrayList;
import java.util.List;

/**
 * The Messages API's answer: a {@code message} object, or streamed, Anthropic's events in their
 * order — {@code message_start}, {@code content_block_start} (a text block), {@code ping},
 * {@code content_block_delta} ({@code text_delta})…, {@code content_block_stop}, then each tool
 * call as a {@code tool_use} block ({@code input_json_delta}), {@code message_delta} (stop reason,
 * usage) and {@code message_stop}; the writer names each event by its {@code type}.
 */
final class MessagesRenderer implements Renderer {
    private final Reply reply;
    private final ToolCalls tools;

    MessagesRenderer(Reply reply) {
        this.reply = reply;
        this.tools = reply.spec().answer().tools();
    }

    /** A required or named call is JSON the client should not see as text: it arrives as tool_use blocks. */
    private boolean streamsText() {
        return tools == null || tools.constraint() == null;
    }

    @Override
    public List<Object> open() {
        ObjectNode start = event("message_start");
        ObjectNode m = start.putObject("message");
        envelope(m);
        m.putArray("content");
        m.putNull("stop_reason");
        m.putNull("stop_sequence");
        m.putObject("usage").put("input_tokens", reply.spec().request().prompt().length).put("output_tokens", 0);
        List<Object> out = new ArrayList<>(List.of(start));
        if (streamsText()) {
            ObjectNode block = event("content_block_start").put("index", 0);
            block.putObject("content_block").put("type", "text").put("text", "");
            out.add(block);
        }
        out.add(event("ping"));
        return out;
    }

    @Override
    public List<Object> token(ChoiceOutput c, TokenEvent t) {
        if (t.text().isEmpty() || !streamsText()) {
            return List.of();
        }
        ObjectNode delta = event("content_block_delta").put("index", 0);
        delta.putObject("delta").put("type", "text_delta").put("text", t.text());
        return List.of(delta);
    }

    @Override
    public List<Object> choiceEnd(ChoiceOutput c) {
        List<Object> out = new ArrayList<>();
        int index = 0;
        if (streamsText()) {
            out.add(event("content_block_stop").put("index", index++));
        }
        List<ToolCalls.Call> calls = c.calls(tools);
        if (calls != null) {
            for (ToolCalls.Call call : calls) {
                ObjectNode start = event("content_block_start").put("index", index);
                start.putObject("content_block").put("type", "tool_use").put("id", toolUseId(call)).put("name", call.name())
                        .putObject("input");
                out.add(start);
                ObjectNode delta = event("content_block_delta").put("index", index);
                delta.putObject("delta").put("type", "input_json_delta").put("partial_json", call.arguments());
                out.add(delta);
                out.add(event("content_block_stop").put("index", index++));
            }
        }
        ObjectNode end = event("message_delta");
        ObjectNode delta = end.putObject("delta");
        stop(delta, c);
        end.putObject("usage").put("output_tokens", c.finish().completionTokens());
        out.add(end);
        return out;
    }

    @Override
    public List<Object> close() {
        return List.of(event("message_stop"));
    }

    @Override
    public List<Object> error(ApiException e) {
        return List.of(ErrorShape.ANTHROPIC.body(e));
    }

    @Override
    public ObjectNode body() {
        ChoiceOutput c = reply.choices().get(0);
        TokenListener.Finish f = c.finish();
        ObjectNode m = Json.object();
        envelope(m);
        ArrayNode content = m.putArray("content");
        List<ToolCalls.Call> calls = c.calls(tools);
        if (calls == null) {
            content.addObject().put("type", "text").put("text", f.text());
        } else {
            for (ToolCalls.Call call : calls) {
                content.addObject().put("type", "tool_use").put("id", toolUseId(call)).put("name", call.name())
                        .set("input", Json.parse(call.arguments()));
            }
        }
        stop(m, c);
        m.putObject("usage").put("input_tokens", f.promptTokens()).put("output_tokens", f.completionTokens())
                .put("cache_read_input_tokens", f.cachedTokens()).put("cache_creation_input_tokens", 0);
        return m;
    }

    private void envelope(ObjectNode m) {
        m.put("id", reply.id());
        m.put("type", "message");
        m.put("role", "assistant");
        m.put("model", reply.model().name());
    }

    /** stop_reason (tool_use, max_tokens, stop_sequence, end_turn) and the client's stop sequence that ended it. */
    private void stop(ObjectNode o, ChoiceOutput c) {
        TokenListener.Finish f = c.finish();
        String matched = f.stopString();
        boolean own = matched != null && !reply.model().chatTemplate().stop().contains(matched);
        o.put("stop_reason", c.calls(tools) != null ? "tool_use" : f.reason() == FinishReason.LENGTH ? "max_tokens"
                : own ? "stop_sequence" : "end_turn");
        if (own) {
            o.put("stop_sequence", matched);
        } else {
            o.putNull("stop_sequence");
        }
    }

    private static String toolUseId(ToolCalls.Call call) {
        return "toolu_" + call.id().substring(call.id().indexOf('_') + 1);
    }

    private static ObjectNode event(String type) {
        return Json.object().put("type", type);
    }
}
