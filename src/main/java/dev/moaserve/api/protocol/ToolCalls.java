package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.moaserve.engine.constraint.ConstraintSpec;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Tool calling on chat completions, as vLLM does it with its structured-output engine
 * (docs/api.md "Tool calling"):
 * <ul>
 *   <li>{@code tool_choice: {"type": "function", "function": {"name": f}}} — the model writes f's
 *       arguments, constrained by f's {@code parameters} schema;</li>
 *   <li>{@code "required"} — the model writes a JSON array of calls
 *       {@code [{"name": …, "arguments": {…}}]}, each constrained by its function's schema (one
 *       call when {@code parallel_tool_calls} is false);</li>
 *   <li>{@code "auto"} (the default with tools) — the model chooses: an answer that is one or more
 *       {@code <tool_call>{"name": …, "arguments": {…}}</tool_call>} blocks (the chat template's
 *       format) is returned as tool calls, anything else as text;</li>
 *   <li>{@code "none"} — plain text, the tools still listed in the prompt.</li>
 * </ul>
 *
 * @param functions name → parameters schema (an object schema; {@code {}} when none given)
 */
public record ToolCalls(Mode mode, Map<String, JsonNode> functions, String named, boolean parallel) {
    public enum Mode { NONE, AUTO, REQUIRED, NAMED }

    /** One call the model made. */
    public record Call(String id, String name, String arguments) {}

    /** Most calls one answer makes under {@code tool_choice: "required"} with parallel calls. */
    static final int MAX_PARALLEL = 8;

    static final String OPEN = "<tool_call>";
    static final String CLOSE = "</tool_call>";

    /** {@code tools}, {@code tool_choice}, {@code parallel_tool_calls} of a chat request; null without tools. */
    static ToolCalls parse(JsonFields f) {
        return of(f.raw("tools"), f.raw("tool_choice"), f.bool("parallel_tool_calls", true));
    }

    /** From chat's {@code tools} array, {@code tool_choice} and {@code parallel_tool_calls}; null without tools. */
    static ToolCalls of(JsonNode tools, JsonNode choice, boolean parallel) {
        if (tools == null || tools.isArray() && tools.isEmpty()) {
            if (choice != null && !"none".equals(choice.asText(null))) {
                throw ApiException.invalid("tool_choice", "'tool_choice' needs 'tools'");
            }
            return null;
        }
        if (!tools.isArray()) {
            throw ApiException.invalid("tools", "'tools' must be an array of {\"type\": \"function\", \"function\": {…}}");
        }
        Map<String, JsonNode> functions = new LinkedHashMap<>();
        for (int i = 0; i < tools.size(); i++) {
            String at = "tools[" + i + "]";
            JsonFields t = new JsonFields(tools.get(i), at + ".", Set.of("type", "function"), Map.of());
            if (!"function".equals(t.string("type", ""))) {
                throw ApiException.invalid(at + ".type", "only \"function\" tools are supported");
            }
            JsonFields fn = new JsonFields(t.raw("function"), at + ".function.", Set.of("name", "description", "parameters", "strict"),
                    Map.of());
            String name = fn.string("name", "");
            if (!name.matches("[A-Za-z0-9_-]{1,64}")) {
                throw ApiException.invalid(at + ".function.name", "a function name is 1 to 64 letters, digits, '_' or '-'");
            }
            fn.string("description", "");
            fn.bool("strict", false);
            JsonNode params = fn.raw("parameters");
            if (params != null && !params.isObject()) {
                throw ApiException.invalid(at + ".function.parameters", "'parameters' must be a JSON schema object");
            }
            if (functions.put(name, params == null ? Json.object() : params) != null) {
                throw ApiException.invalid(at + ".function.name", "two tools are named '" + name + "'");
            }
        }
        if (choice == null || "auto".equals(choice.asText(null))) {
            return new ToolCalls(Mode.AUTO, functions, null, parallel);
        }
        if ("none".equals(choice.asText(null))) {
            return new ToolCalls(Mode.NONE, functions, null, parallel);
        }
        if ("required".equals(choice.asText(null))) {
            return new ToolCalls(Mode.REQUIRED, functions, null, parallel);
        }
        if (choice.isObject() && "function".equals(choice.path("type").asText(""))) {
            String name = choice.path("function").path("name").asText("");
            if (!functions.containsKey(name)) {
                throw ApiException.invalid("tool_choice", "'tool_choice' names '" + name + "', which is not among 'tools'");
            }
            return new ToolCalls(Mode.NAMED, functions, name, parallel);
        }
        throw ApiException.invalid("tool_choice", "'tool_choice' must be \"none\", \"auto\", \"required\" or "
                + "{\"type\": \"function\", \"function\": {\"name\": …}}");
    }

    /** The constraint that makes the answer a valid call (required, named); null when the model is free. */
    ConstraintRequests.Requested constraint() {
        return switch (mode) {
            case NAMED -> new ConstraintRequests.Requested(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA,
                    Json.write(functions.get(named))), "tool_choice");
            case REQUIRED -> {
                // at most MAX_PARALLEL calls: a model that was not trained to stop would repeat its call to max_tokens
                ObjectNode array = Json.object().put("type", "array").put("minItems", 1).put("maxItems", parallel ? MAX_PARALLEL : 1);
                ArrayNode any = array.putObject("items").putArray("anyOf");
                for (Map.Entry<String, JsonNode> e : functions.entrySet()) {
                    ObjectNode call = any.addObject().put("type", "object").put("additionalProperties", false);
                    ObjectNode props = call.putObject("properties");
                    props.putObject("name").put("const", e.getKey());
                    props.set("arguments", e.getValue());
                    call.putArray("required").add("name").add("arguments");
                }
                yield new ConstraintRequests.Requested(new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, Json.write(array)), "tools");
            }
            default -> null;
        };
    }

    /** The prompt's tool block: each function's name, description and schema, and how to call one. */
    String promptBlock(JsonNode tools) {
        return "You can call these tools:\n" + Json.write(tools) + "\nTo call tools, answer only with one or more "
                + OPEN + "{\"name\": \"<function>\", \"arguments\": {<its parameters>}}" + CLOSE + " blocks.";
    }

    /** The calls in a finished answer; null when it is plain text (auto, none). */
    List<Call> calls(String output) {
        try {
            return switch (mode) {
                case NAMED -> {
                    Json.MAPPER.readTree(output); // valid by construction; a truncated answer is not a call
                    yield List.of(new Call(newId(), named, output.strip()));
                }
                case REQUIRED -> {
                    List<Call> out = new ArrayList<>();
                    for (JsonNode c : Json.MAPPER.readTree(output)) {
                        out.add(new Call(newId(), c.get("name").asText(), Json.write(c.get("arguments"))));
                    }
                    yield out;
                }
                case AUTO -> autoCalls(output);
                case NONE -> null;
            };
        } catch (Exception e) {
            return null; // cut short (max_tokens): not a complete call, returned as text
        }
    }

    private List<Call> autoCalls(String output) throws Exception {
        String rest = output.strip();
        if (!rest.startsWith(OPEN)) {
            return null;
        }
        List<Call> out = new ArrayList<>();
        while (rest.startsWith(OPEN)) {
            int end = rest.indexOf(CLOSE);
            if (end < 0) {
                return null;
            }
            JsonNode c = Json.MAPPER.readTree(rest.substring(OPEN.length(), end));
            String name = c.path("name").asText("");
            if (!functions.containsKey(name) || !c.has("arguments")) {
                return null;
            }
            out.add(new Call(newId(), name, Json.write(c.get("arguments"))));
            rest = rest.substring(end + CLOSE.length()).strip();
        }
        return rest.isEmpty() && (parallel || out.size() == 1) ? out : null;
    }

    private static String newId() {
        return "call_" + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
    }

    /** Calls as the template writes them into the conversation ({@code <tool_call>} blocks). */
    static String render(List<Call> calls) {
        StringBuilder sb = new StringBuilder();
        for (Call c : calls) {
            sb.append(OPEN).append("{\"name\": ").append(Json.write(c.name())).append(", \"arguments\": ")
                    .append(c.arguments()).append('}').append(CLOSE);
        }
        return sb.toString();
    }

    /** An assistant message's {@code tool_calls} as the template writes them back into the conversation. */
    static String render(JsonNode toolCalls) {
        StringBuilder sb = new StringBuilder();
        for (JsonNode c : toolCalls) {
            JsonNode fn = c.path("function");
            String args = fn.path("arguments").asText("{}");
            sb.append(OPEN).append("{\"name\": ").append(Json.write(fn.path("name").asText(""))).append(", \"arguments\": ")
                    .append(args).append('}').append(CLOSE);
        }
        return sb.toString();
    }

    /** The {@code tool_calls} array of an answer; {@code indexed}: as stream deltas carry them. */
    static ArrayNode json(List<Call> calls, boolean indexed) {
        ArrayNode a = Json.MAPPER.createArrayNode();
        for (int i = 0; i < calls.size(); i++) {
            Call c = calls.get(i);
            ObjectNode o = a.addObject();
            if (indexed) {
                o.put("index", i);
            }
            o.put("id", c.id());
            o.put("type", "function");
            o.putObject("function").put("name", c.name()).put("arguments", c.arguments());
        }
        return a;
    }
}
