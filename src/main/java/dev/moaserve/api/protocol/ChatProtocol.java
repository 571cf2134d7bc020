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
            "top_logprobs", "response_format", "structured_outputs", "tools", "tool_choice");
    private static final Map<String, String> UNSUPPORTED = Map.of(
            "functions", "function calling is not implemented",
            "function_call", "function calling is not implemented",
            "parallel_tool_calls", "tool calling is not implemented",
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
    public String idPrefix() {
        return "chatcmpl-";
    }

    @Override
    public GenerationSpec parse(JsonNode body, ServedModel model, boolean stream) {
        JsonFields f = new JsonFields(body, "", FIELDS, UNSUPPORTED);
        RequestFields.checkModel(f, model);
        JsonNode tools = f.raw("tools");
        if (tools != null && !(tools.isArray() && tools.isEmpty())) {
            throw ApiException.invalid("tools", "'tools' is not supported by this server: tool calling is not implemented");
        }
        JsonNode choice = f.raw("tool_choice");
        if (choice != null && !"none".equals(choice.asText(null))) {
            throw ApiException.invalid("tool_choice", "'tool_choice' may only be \"none\": tool calling is not implemented");
        }
        List<ChatTemplate.Message> messages = messages(f.raw("messages"));
        ChatTemplate t = model.chatTemplate();
        String text = t.render(messages);
        boolean logprobs = f.bool("logprobs", false);
        int top = (int) f.integer("top_logprobs", 0, 0, 20);
        if (f.has("top_logprobs") && !logprobs) {
            throw ApiException.invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        }
        return spec(f, model, new Prompt(text, RequestFields.encode(text, model, "messages"), false, false),
                new Route(true, null, t.stop(), logprobs ? top : 0, logprobs));
    }

    private static List<ChatTemplate.Message> messages(JsonNode msgs) {
        if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        }
        List<ChatTemplate.Message> messages = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            String at = "messages[" + i + "]";
            JsonFields m = new JsonFields(msgs.get(i), at + ".", Set.of("role", "content"),
                    Map.of("name", "participant names are not used by this model's chat template",
                            "tool_calls", "tool calling is not implemented",
                            "tool_call_id", "tool calling is not implemented"));
            String role = m.string("role", "");
            if (!List.of("system", "user", "assistant", "developer").contains(role)) {
                throw ApiException.invalid(at + ".role", "role must be system, user, assistant or developer");
            }
            JsonNode c = m.raw("content");
            String content;
            if (c != null && c.isTextual()) {
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

            @Override
            ObjectNode openChoice(ObjectNode chunk, ObjectNode choice, ChoiceOutput c) {
                choice.putObject("delta").put("role", "assistant").put("content", "");
                return chunk;
            }

            @Override
            void tokenContent(ObjectNode choice, ChoiceOutput c, TokenEvent t) {
                choice.putObject("delta").put("content", t.text());
                choice.set("logprobs", reply.spec().chatLogprobs() && t.choice() != null
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
                msg.put("content", c.finish().text());
                msg.putNull("refusal");
                choice.set("logprobs", reply.spec().chatLogprobs() ? Logprobs.chat(reply.model().tokenizer(), c.tokens()) : null);
            }
        };
    }
}
