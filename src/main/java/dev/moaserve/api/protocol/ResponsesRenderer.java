package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/** The response object and, streamed, the Responses event sequence. */
final class ResponsesRenderer implements Renderer {
    private final Reply reply;
    private final ResponsesProtocol.Conversation conv;
    private final String messageId;
    private int sequence;

    ResponsesRenderer(Reply reply) {
        this.reply = reply;
        this.conv = reply.spec().answer().conversation();
        // the same message id in the stream, the body and the stored response
        this.messageId = "msg_" + reply.id().substring(reply.id().indexOf('_') + 1);
    }

    private ObjectNode event(String type) {
        ObjectNode e = Json.object();
        e.put("type", type);
        e.put("sequence_number", sequence++);
        return e;
    }

    private ObjectNode item(String status, String text) {
        ObjectNode item = Json.object();
        item.put("type", "message");
        item.put("id", messageId);
        item.put("status", status);
        item.put("role", "assistant");
        ArrayNode content = item.putArray("content");
        if (text != null) {
            content.add(part(text));
        }
        return item;
    }

    private static ObjectNode part(String text) {
        ObjectNode p = Json.object();
        p.put("type", "output_text");
        p.put("text", text);
        p.putArray("annotations");
        return p;
    }

    /** The response object; {@code c} null while it runs. */
    private ObjectNode response(ChoiceOutput c) {
        ObjectNode o = Json.object();
        o.put("id", reply.id());
        o.put("object", "response");
        o.put("created_at", reply.created());
        boolean done = c != null && c.finish() != null;
        boolean cut = done && c.finish().reason() == dev.moaserve.engine.FinishReason.LENGTH;
        o.put("status", !done ? "in_progress" : cut ? "incomplete" : "completed");
        o.putNull("error");
        if (cut) {
            o.putObject("incomplete_details").put("reason", "max_output_tokens");
        } else {
            o.putNull("incomplete_details");
        }
        if (conv.instructions() == null) {
            o.putNull("instructions");
        } else {
            o.put("instructions", conv.instructions());
        }
        o.put("max_output_tokens", reply.spec().request().params().maxTokens());
        o.put("model", reply.model().name());
        ArrayNode output = o.putArray("output");
        List<ToolCalls.Call> calls = done ? c.calls(reply.spec().answer().tools()) : null;
        if (calls != null) {
            calls.forEach(call -> output.add(functionCall(call, "completed")));
        } else if (done) {
            output.add(item("completed", c.finish().text()));
        }
        o.put("parallel_tool_calls", conv.parallelToolCalls());
        if (conv.previous() == null) {
            o.putNull("previous_response_id");
        } else {
            o.put("previous_response_id", conv.previous());
        }
        o.put("store", conv.store());
        o.put("temperature", reply.spec().request().params().temperature());
        o.set("text", conv.text() != null ? conv.text() : Json.object().set("format", Json.object().put("type", "text")));
        o.set("tool_choice", conv.toolChoice());
        ArrayNode toolList = o.putArray("tools");
        if (reply.spec().answer().tools() != null) {
            reply.spec().answer().tools().functions().forEach((name, params) -> toolList.addObject().put("type", "function")
                    .put("name", name).set("parameters", params));
        }
        o.put("top_p", reply.spec().request().params().topP());
        o.put("truncation", "disabled");
        o.set("metadata", conv.metadata() != null ? conv.metadata() : Json.object());
        if (done) {
            ObjectNode u = o.putObject("usage");
            u.put("input_tokens", c.finish().promptTokens());
            u.putObject("input_tokens_details").put("cached_tokens", c.finish().cachedTokens());
            u.put("output_tokens", c.finish().completionTokens());
            u.putObject("output_tokens_details").put("reasoning_tokens", 0);
            u.put("total_tokens", c.finish().promptTokens() + c.finish().completionTokens());
        } else {
            o.putNull("usage");
        }
        return o;
    }

    /** A required or named call: no message, its function_call items at the end. */
    private boolean forcedCall() {
        return reply.spec().answer().tools() != null && reply.spec().answer().tools().constraint() != null;
    }

    private ObjectNode functionCall(ToolCalls.Call call, String status) {
        ObjectNode item = Json.object();
        item.put("type", "function_call");
        item.put("id", "fc_" + call.id().substring("call_".length()));
        item.put("call_id", call.id());
        item.put("name", call.name());
        item.put("arguments", "completed".equals(status) ? call.arguments() : "");
        item.put("status", status);
        return item;
    }

    @Override
    public List<Object> open() {
        ObjectNode created = event("response.created");
        created.set("response", response(null));
        ObjectNode progress = event("response.in_progress");
        progress.set("response", response(null));
        if (forcedCall()) {
            return List.of(created, progress);
        }
        ObjectNode added = event("response.output_item.added");
        added.put("output_index", 0);
        added.set("item", item("in_progress", null));
        ObjectNode part = event("response.content_part.added");
        part.put("item_id", messageId);
        part.put("output_index", 0);
        part.put("content_index", 0);
        part.set("part", part(""));
        return List.of(created, progress, added, part);
    }

    @Override
    public List<Object> token(ChoiceOutput c, TokenEvent t) {
        if (t.text().isEmpty() || forcedCall()) {
            return List.of();
        }
        ObjectNode d = event("response.output_text.delta");
        d.put("item_id", messageId);
        d.put("output_index", 0);
        d.put("content_index", 0);
        d.put("delta", t.text());
        d.putArray("logprobs");
        return List.of(d);
    }

    @Override
    public List<Object> choiceEnd(ChoiceOutput c) {
        List<ToolCalls.Call> calls = c.calls(reply.spec().answer().tools());
        if (forcedCall()) {
            List<Object> out = new java.util.ArrayList<>();
            for (int i = 0; calls != null && i < calls.size(); i++) {
                ToolCalls.Call call = calls.get(i);
                String itemId = "fc_" + call.id().substring("call_".length());
                ObjectNode added = event("response.output_item.added");
                added.put("output_index", i);
                added.set("item", functionCall(call, "in_progress"));
                ObjectNode delta = event("response.function_call_arguments.delta");
                delta.put("item_id", itemId);
                delta.put("output_index", i);
                delta.put("delta", call.arguments());
                ObjectNode argsDone = event("response.function_call_arguments.done");
                argsDone.put("item_id", itemId);
                argsDone.put("output_index", i);
                argsDone.put("arguments", call.arguments());
                ObjectNode itemDone = event("response.output_item.done");
                itemDone.put("output_index", i);
                itemDone.set("item", functionCall(call, "completed"));
                out.addAll(List.of(added, delta, argsDone, itemDone));
            }
            return out;
        }
        String text = c.finish().text();
        ObjectNode done = event("response.output_text.done");
        done.put("item_id", messageId);
        done.put("output_index", 0);
        done.put("content_index", 0);
        done.put("text", text);
        done.putArray("logprobs");
        ObjectNode partDone = event("response.content_part.done");
        partDone.put("item_id", messageId);
        partDone.put("output_index", 0);
        partDone.put("content_index", 0);
        partDone.set("part", part(text));
        ObjectNode itemDone = event("response.output_item.done");
        itemDone.put("output_index", 0);
        itemDone.set("item", item("completed", text));
        return List.of(done, partDone, itemDone);
    }

    @Override
    public List<Object> close() {
        ChoiceOutput c = reply.choices().get(0);
        ObjectNode response = response(c);
        ObjectNode e = event("incomplete".equals(response.get("status").asText()) ? "response.incomplete" : "response.completed");
        e.set("response", response);
        return List.of(e);
    }

    @Override
    public List<Object> error(ApiException e) {
        ObjectNode o = event("error");
        o.put("code", e.code());
        o.put("message", e.getMessage());
        if (e.param() == null) {
            o.putNull("param");
        } else {
            o.put("param", e.param());
        }
        return List.of(o);
    }

    @Override
    public ObjectNode body() {
        ChoiceOutput c = reply.choices().get(0);
        return response(c);
    }
}
