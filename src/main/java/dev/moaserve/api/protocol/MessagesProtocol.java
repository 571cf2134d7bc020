package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.moaserve.model.ChatTemplate;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Anthropic's Messages API, {@code POST /v1/messages} (docs/api.md "Messages"): a parser into
 * chat's rules ({@link ChatProtocol#conversation}) and a renderer ({@link MessagesRenderer}), over
 * the same engine, chat template and constraints. {@code system} and the messages' text,
 * {@code tool_use} and {@code tool_result} blocks become the template's messages; {@code tools}
 * and {@code tool_choice} ({@code any} and a named tool enforced as chat's {@code required} and
 * named choices) become chat's tool calling.
 */
final class MessagesProtocol implements Protocol {
    private static final Set<String> FIELDS = Set.of("model", "max_tokens", "messages", "system", "stop_sequences",
            "temperature", "top_p", "top_k", "metadata", "stream", "tools", "tool_choice", "service_tier", "priority",
            "moa_decode");
    private static final Map<String, String> UNSUPPORTED = Map.of(
            "thinking", "this model has no extended thinking",
            "container", "containers are not implemented",
            "mcp_servers", "MCP servers are not implemented",
            "context_management", "context management is not implemented");
    /** What a content block may carry besides its own fields (prompt caching marks are accepted and ignored). */
    private static final String CACHE = "cache_control";

    @Override
    public String name() {
        return "messages";
    }

    @Override
    public String idPrefix() {
        return "msg_";
    }

    @Override
    public String operation() {
        return "chat";
    }

    @Override
    public ErrorShape errors() {
        return ErrorShape.ANTHROPIC;
    }

    @Override
    public boolean namedEvents() {
        return true;
    }

    @Override
    public int countTokens(JsonNode body, ServedModel model) {
        JsonFields f = new JsonFields(body, "", Set.of("model", "messages", "system", "tools", "tool_choice"), Map.of(
                "thinking", "this model has no extended thinking"));
        RequestFields.checkModel(f, model);
        ToolCalls tools = tools(f);
        return RequestFields.encode(ChatProtocol.render(f, model, messages(f), tools), model, "messages").length;
    }

    @Override
    public GenerationSpec parse(JsonNode body, ServedModel model, boolean stream) {
        JsonFields f = new JsonFields(body, "", FIELDS, UNSUPPORTED);
        RequestFields.checkModel(f, model);
        if (!f.has("max_tokens")) {
            throw ApiException.invalid("max_tokens", "'max_tokens' is required");
        }
        GenerationSpec spec = ChatProtocol.conversation(f, model, messages(f), tools(f), null, "messages", 0, false);
        List<String> stops = RequestFields.stops(f.raw("stop_sequences"), "stop_sequences");
        if (stops.isEmpty()) {
            return spec;
        }
        List<String> all = new ArrayList<>(stops);
        all.addAll(spec.request().params().stop());
        return new GenerationSpec(spec.request().withParams(spec.request().params().toBuilder().stop(all).build()), spec.answer());
    }

    /** {@code metadata}, {@code service_tier}, then {@code system} and {@code messages} as the template's messages. */
    private static List<ChatTemplate.Message> messages(JsonFields f) {
        if (f.has("metadata") && !f.raw("metadata").isObject()) {
            throw ApiException.invalid("metadata", "'metadata' must be an object");
        }
        f.string("service_tier", "auto");
        List<ChatTemplate.Message> out = new ArrayList<>();
        JsonNode system = f.raw("system");
        if (system != null) {
            out.add(new ChatTemplate.Message("system", text(system, "system")));
        }
        JsonNode msgs = f.raw("messages");
        if (msgs == null || !msgs.isArray() || msgs.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        }
        for (int i = 0; i < msgs.size(); i++) {
            String at = "messages[" + i + "]";
            JsonFields m = new JsonFields(msgs.get(i), at + ".", Set.of("role", "content"), Map.of());
            String role = m.string("role", "");
            if (!List.of("user", "assistant", "system").contains(role)) {
                throw ApiException.invalid(at + ".role", "role must be user or assistant (or system)");
            }
            JsonNode c = m.raw("content");
            if (c != null && c.isTextual()) {
                out.add(new ChatTemplate.Message(role, c.asText()));
            } else if (c != null && c.isArray()) {
                blocks(c, at + ".content", role, out);
            } else {
                throw ApiException.invalid(at + ".content", "content must be a string or an array of content blocks");
            }
        }
        return out;
    }

    /** A message's blocks: its text in order, an assistant's tool_use blocks as calls, a user's tool_result blocks as tool messages. */
    private static void blocks(JsonNode blocks, String at, String role, List<ChatTemplate.Message> out) {
        StringBuilder text = new StringBuilder();
        List<ToolCalls.Call> calls = new ArrayList<>();
        for (int j = 0; j < blocks.size(); j++) {
            String here = at + "[" + j + "]";
            String type = blocks.get(j).path("type").asText("");
            switch (type) {
                case "text" -> text.append(new JsonFields(blocks.get(j), here + ".", Set.of("type", "text", CACHE, "citations"),
                        Map.of()).string("text", ""));
                case "tool_use" -> {
                    JsonFields u = new JsonFields(blocks.get(j), here + ".", Set.of("type", "id", "name", "input", CACHE), Map.of());
                    if (!"assistant".equals(role)) {
                        throw ApiException.invalid(here + ".type", "only an assistant message has tool_use blocks");
                    }
                    JsonNode input = u.raw("input");
                    calls.add(new ToolCalls.Call(u.string("id", ""), u.string("name", ""), Json.write(input == null ? Json.object() : input)));
                }
                case "tool_result" -> {
                    JsonFields r = new JsonFields(blocks.get(j), here + ".", Set.of("type", "tool_use_id", "content", "is_error", CACHE),
                            Map.of());
                    if (!"user".equals(role)) {
                        throw ApiException.invalid(here + ".type", "only a user message has tool_result blocks");
                    }
                    r.string("tool_use_id", "");
                    r.bool("is_error", false);
                    JsonNode content = r.raw("content");
                    flush(role, text, out);
                    out.add(new ChatTemplate.Message("tool", content == null ? "" : text(content, here + ".content")));
                }
                default -> throw ApiException.invalid(here + ".type", "content blocks are text, tool_use or tool_result; '"
                        + type + "' is not supported");
            }
        }
        if (!calls.isEmpty()) {
            out.add(new ChatTemplate.Message("assistant", text + ToolCalls.render(calls)));
        } else {
            flush(role, text, out);
        }
    }

    private static void flush(String role, StringBuilder text, List<ChatTemplate.Message> out) {
        if (!text.isEmpty()) {
            out.add(new ChatTemplate.Message(role, text.toString()));
            text.setLength(0);
        }
    }

    /** A string, or text blocks joined (system prompts, tool results). */
    private static String text(JsonNode v, String at) {
        if (v.isTextual()) {
            return v.asText();
        }
        if (!v.isArray()) {
            throw ApiException.invalid(at, "'" + at + "' must be a string or an array of text blocks");
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < v.size(); i++) {
            JsonFields b = new JsonFields(v.get(i), at + "[" + i + "].", Set.of("type", "text", CACHE, "citations"), Map.of());
            if (!"text".equals(b.string("type", ""))) {
                throw ApiException.invalid(at + "[" + i + "].type", "only text blocks are supported here");
            }
            sb.append(b.string("text", ""));
        }
        return sb.toString();
    }

    /** Anthropic's {@code tools} and {@code tool_choice} in chat's shape; null without tools. */
    private static ToolCalls tools(JsonFields f) {
        JsonNode tools = f.raw("tools");
        JsonNode choice = f.raw("tool_choice");
        boolean parallel = true;
        JsonNode chatChoice = null;
        if (choice != null) {
            JsonFields c = new JsonFields(choice, "tool_choice.", Set.of("type", "name", "disable_parallel_tool_use"), Map.of());
            parallel = !c.bool("disable_parallel_tool_use", false);
            String type = c.string("type", "");
            chatChoice = switch (type) {
                case "auto" -> TextNode.valueOf("auto");
                case "any" -> TextNode.valueOf("required");
                case "none" -> TextNode.valueOf("none");
                case "tool" -> {
                    ObjectNode named = Json.object().put("type", "function");
                    named.putObject("function").put("name", c.string("name", ""));
                    yield named;
                }
                default -> throw ApiException.invalid("tool_choice.type", "'tool_choice.type' must be auto, any, tool or none");
            };
        }
        if (tools == null) {
            return ToolCalls.of(null, chatChoice, parallel);
        }
        if (!tools.isArray()) {
            throw ApiException.invalid("tools", "'tools' must be an array of {\"name\", \"description\", \"input_schema\"}");
        }
        ArrayNode chat = Json.MAPPER.createArrayNode();
        for (int i = 0; i < tools.size(); i++) {
            String at = "tools[" + i + "].";
            JsonFields t = new JsonFields(tools.get(i), at, Set.of("type", "name", "description", "input_schema", CACHE), Map.of());
            if (!"custom".equals(t.string("type", "custom"))) {
                throw ApiException.invalid(at + "type", "only client tools (\"custom\", or no type) are supported");
            }
            ObjectNode fn = chat.addObject().put("type", "function").putObject("function");
            fn.put("name", t.string("name", ""));
            fn.put("description", t.string("description", ""));
            JsonNode schema = t.raw("input_schema");
            if (schema == null || !schema.isObject()) {
                throw ApiException.invalid(at + "input_schema", "'input_schema' must be a JSON schema object");
            }
            fn.set("parameters", schema);
        }
        return ToolCalls.of(chat, chatChoice, parallel);
    }

    @Override
    public Renderer renderer(Reply reply) {
        return new MessagesRenderer(reply);
    }
}
