package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.model.ChatTemplate;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** OpenAI's {@code /v1/chat/completions}: messages rendered by the model's chat template, an assistant message out. */
final class ChatProtocol extends OpenAiProtocol {
    private static final Set<String> FIELDS = RequestFields.union(SAMPLING, "messages", "max_completion_tokens",
            "top_logprobs", "response_format", "structured_outputs", "tools", "tool_choice", "parallel_tool_calls");
    private static final Map<String, String> UNSUPPORTED = Map.of(
            "functions", "the deprecated 'functions' is not implemented: send 'tools'",
            "function_call", "the deprecated 'function_call' is not implemented: send 'tool_choice'",
            "audio", "audio output is not implemented",
            "modalities", "only text output is implemented",
            "prediction", "predicted outputs are not implemented",
            "web_search_options", "web search is not implemented",
            "reasoning_effort", "this model has no reasoning mode");

    @Override
    public String name() {
        return "chat";
    }

    @Override
    public String operation() {
        return "chat";
    }

    @Override
    public String idPrefix() {
        return "chatcmpl-";
    }

    @Override
    public GenerationSpec parse(JsonNode body, ServedModel model, boolean stream) {
        JsonFields f = new JsonFields(body, "", FIELDS, UNSUPPORTED);
        RequestFields.checkModel(f, model);
        ToolCalls tools = ToolCalls.parse(f);
        List<ChatTemplate.Message> messages = messages(f.raw("messages"));
        boolean logprobs = f.bool("logprobs", false);
        int top = (int) f.integer("top_logprobs", 0, 0, 20);
        if (f.has("top_logprobs") && !logprobs) {
            throw ApiException.invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        }
        return conversation(f, model, messages, tools, ConstraintRequests.openAi(f), "messages", logprobs ? top : 0, logprobs);
    }

    /** The conversation as the template writes it, the tools first as a system message. */
    static String render(JsonFields f, ServedModel model, List<ChatTemplate.Message> messages, ToolCalls tools) {
        List<ChatTemplate.Message> all = new ArrayList<>(messages);
        if (tools != null) {
            all.add(0, new ChatTemplate.Message("system", tools.promptBlock(f.raw("tools"))));
        }
        return model.chatTemplate().render(all);
    }

    /**
     * Chat's rules, which the Responses API shares: the tools first, as a system message in the
     * template's format; the template's stop strings unless the answer is constrained (a forced
     * call or an asked-for format: it ends when its JSON is complete, and a stop string inside it
     * must not cut it); the sampling fields, the context check ({@code context_length_exceeded})
     * and the tool choice against an asked-for format.
     *
     * @param format      the structured output the route's own field asked for (null: none)
     * @param promptParam the field that holds the conversation (messages, input)
     */
    static GenerationSpec conversation(JsonFields f, ServedModel model, List<ChatTemplate.Message> messages, ToolCalls tools,
                                       ConstraintRequests.Requested format, String promptParam, int alternatives,
                                       boolean chatLogprobs) {
        ChatTemplate t = model.chatTemplate();
        String text = render(f, model, messages, tools);
        boolean constrained = format != null || tools != null && tools.constraint() != null;
        GenerationSpec spec = spec(f, model, new Prompt(text, RequestFields.encode(text, model, promptParam), false, false),
                new Route(promptParam, null, constrained ? List.of() : t.stop(), alternatives, chatLogprobs));
        return withTools(spec.constrained(format), tools, "tool_choice");
    }

    private static List<ChatTemplate.Message> messages(JsonNode msgs) {
        if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        }
        List<ChatTemplate.Message> messages = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            String at = "messages[" + i + "]";
            JsonFields m = new JsonFields(msgs.get(i), at + ".", Set.of("role", "content", "tool_calls", "tool_call_id"),
                    Map.of("name", "participant names are not used by this model's chat template"));
            String role = m.string("role", "");
            if (!List.of("system", "user", "assistant", "developer", "tool").contains(role)) {
                throw ApiException.invalid(at + ".role", "role must be system, user, assistant, developer or tool");
            }
            if (m.has("tool_calls") && !"assistant".equals(role)) {
                throw ApiException.invalid(at + ".tool_calls", "only an assistant message has 'tool_calls'");
            }
            if ("tool".equals(role) != m.has("tool_call_id")) {
                throw ApiException.invalid(at + ".tool_call_id", "a tool message, and only a tool message, has 'tool_call_id'");
            }
            m.string("tool_call_id", "");
            JsonNode c = m.raw("content");
            String content;
            JsonNode calls = m.raw("tool_calls");
            if (calls != null && (c == null || c.isNull())) {
                if (!calls.isArray() || calls.isEmpty()) {
                    throw ApiException.invalid(at + ".tool_calls", "'tool_calls' must be a non-empty array");
                }
                content = ToolCalls.render(calls);
            } else if (c != null && c.isTextual()) {
                content = c.asText();
            } else if (c != null && c.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (int j = 0; j < c.size(); j++) {
                    if (!"text".equals(c.get(j).path("type").asText(""))) {
                        throw ApiException.invalid(at + ".content[" + j + "].type",
                                "only text content parts are supported (type \"text\")");
                    }
                    JsonFields part = new JsonFields(c.get(j), at + ".content[" + j + "].", Set.of("type", "text"), Map.of());
                    sb.append(part.string("text", ""));
                }
                content = sb.toString();
            } else {
                throw ApiException.invalid(at + ".content", "content must be a string or an array of text parts");
            }
            messages.add(new ChatTemplate.Message(role, content));
        }
        return messages;
    }

    @Override
    public Renderer renderer(Reply reply) {
        return new OpenAiRenderer(reply) {
            @Override
            String object(boolean chunk) {
                return chunk ? "chat.completion.chunk" : "chat.completion";
            }

            private final ToolCalls tools = reply.spec().answer().tools();

            /** A required or named call is JSON the client should not see as text: it arrives as tool_calls. */
            @Override
            boolean streamsText() {
                return tools == null || tools.constraint() == null;
            }

            @Override
            String finishReason(ChoiceOutput c) {
                return c.calls(tools) != null ? "tool_calls" : super.finishReason(c);
            }

            @Override
            List<Object> beforeEnd(ChoiceOutput c) {
                List<ToolCalls.Call> calls = c.calls(tools);
                if (calls == null) {
                    return List.of();
                }
                ObjectNode chunk = choiceChunk(c);
                ObjectNode choice = (ObjectNode) chunk.get("choices").get(0);
                choice.putObject("delta").set("tool_calls", ToolCalls.json(calls, true));
                choice.putNull("logprobs");
                choice.putNull("finish_reason");
                return List.of(chunk);
            }

            @Override
            ObjectNode openChoice(ObjectNode chunk, ObjectNode choice, ChoiceOutput c) {
                choice.putObject("delta").put("role", "assistant").put("content", "");
                return chunk;
            }

            @Override
            void tokenContent(ObjectNode choice, ChoiceOutput c, TokenEvent t) {
                choice.putObject("delta").put("content", t.text());
                choice.set("logprobs", reply.spec().answer().chatLogprobs() && t.choice() != null
                        ? Logprobs.chat(reply.model().tokenizer(), List.of(t)) : null);
            }

            @Override
            void endContent(ObjectNode choice) {
                choice.putObject("delta");
            }

            @Override
            void bodyContent(ObjectNode choice, ChoiceOutput c) {
                ObjectNode msg = choice.putObject("message");
                msg.put("role", "assistant");
                List<ToolCalls.Call> calls = c.calls(tools);
                if (calls != null) {
                    msg.putNull("content");
                    msg.set("tool_calls", ToolCalls.json(calls, false));
                } else {
                    msg.put("content", c.finish().text());
                }
                msg.putNull("refusal");
                choice.set("logprobs", reply.spec().answer().chatLogprobs() ? Logprobs.chat(reply.model().tokenizer(), c.tokens()) : null);
            }
        };
    }
}
