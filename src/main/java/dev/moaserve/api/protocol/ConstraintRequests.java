package dev.moaserve.api.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import dev.moaserve.engine.constraint.ConstraintSpec;
import dev.moaserve.engine.constraint.ConstraintSpec.Kind;

import java.util.Map;
import java.util.Set;

/**
 * The structured-output fields of the three APIs, parsed into one {@link ConstraintSpec}:
 * OpenAI's {@code response_format} (json_object, json_schema), vLLM's {@code structured_outputs}
 * (json, regex, choice, json_object), TGI's {@code parameters.grammar} (json, regex). Compiling
 * happens later, off the event loop (the generation routes).
 */
public final class ConstraintRequests {
    /** A parsed constraint and the request field it came from (named in errors). */
    public record Requested(ConstraintSpec spec, String param) {}

    private ConstraintRequests() {}

    /** OpenAI's response_format and vLLM's structured_outputs (at most one of them); null when neither constrains. */
    static Requested openAi(JsonFields f) {
        Requested rf = responseFormat(f.raw("response_format"));
        Requested so = structuredOutputs(f.raw("structured_outputs"));
        if (rf != null && so != null) {
            throw ApiException.invalid("structured_outputs", "send either 'response_format' or 'structured_outputs', not both");
        }
        return rf != null ? rf : so;
    }

    private static Requested responseFormat(JsonNode rf) {
        if (rf == null) {
            return null;
        }
        if (!rf.isObject()) {
            throw ApiException.invalid("response_format", "'response_format' must be an object");
        }
        String type = rf.path("type").asText("");
        switch (type) {
            case "text" -> {
                new JsonFields(rf, "response_format.", Set.of("type"), Map.of());
                return null;
            }
            case "json_object" -> {
                new JsonFields(rf, "response_format.", Set.of("type"), Map.of());
                return new Requested(new ConstraintSpec(Kind.JSON_OBJECT, ""), "response_format");
            }
            case "json_schema" -> {
                JsonFields f = new JsonFields(rf, "response_format.", Set.of("type", "json_schema"), Map.of());
                JsonNode js = f.raw("json_schema");
                if (js == null || !js.isObject()) {
                    throw ApiException.invalid("response_format.json_schema", "'response_format.json_schema' must be an object with 'name' and 'schema'");
                }
                JsonFields j = new JsonFields(js, "response_format.json_schema.", Set.of("name", "schema", "strict", "description"), Map.of());
                j.string("name", "");
                j.string("description", "");
                j.bool("strict", false);
                JsonNode schema = j.raw("schema");
                if (schema == null || !(schema.isObject() || schema.isBoolean())) {
                    throw ApiException.invalid("response_format.json_schema.schema", "'response_format.json_schema.schema' must be a JSON Schema object");
                }
                return new Requested(new ConstraintSpec(Kind.JSON_SCHEMA, Json.write(schema)), "response_format.json_schema.schema");
            }
            default -> throw ApiException.invalid("response_format.type",
                    "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\"");
        }
    }

    private static Requested structuredOutputs(JsonNode so) {
        if (so == null) {
            return null;
        }
        if (!so.isObject()) {
            throw ApiException.invalid("structured_outputs", "'structured_outputs' must be an object");
        }
        JsonFields f = new JsonFields(so, "structured_outputs.", Set.of("json", "regex", "choice", "json_object"),
                Map.of("grammar", "grammars (EBNF/Lark) are not supported: use json, regex or choice",
                        "structural_tag", "structural tags are not supported",
                        "whitespace_pattern", "the whitespace is compact: a whitespace pattern is not supported"));
        Requested r = null;
        int given = 0;
        if (f.has("json")) {
            r = schema(f.raw("json"), "structured_outputs.json");
            given++;
        }
        if (f.has("regex")) {
            r = new Requested(new ConstraintSpec(Kind.REGEX, f.string("regex", "")), "structured_outputs.regex");
            given++;
        }
        if (f.has("choice")) {
            JsonNode c = f.raw("choice");
            if (!c.isArray() || c.isEmpty()) {
                throw ApiException.invalid("structured_outputs.choice", "'structured_outputs.choice' must be a non-empty list of strings");
            }
            for (JsonNode x : c) {
                if (!x.isTextual() || x.asText().isEmpty()) {
                    throw ApiException.invalid("structured_outputs.choice", "'structured_outputs.choice' must hold non-empty strings");
                }
            }
            r = new Requested(new ConstraintSpec(Kind.CHOICE, Json.write(c)), "structured_outputs.choice");
            given++;
        }
        if (f.bool("json_object", false)) {
            r = new Requested(new ConstraintSpec(Kind.JSON_OBJECT, ""), "structured_outputs.json_object");
            given++;
        }
        if (given > 1) {
            throw ApiException.invalid("structured_outputs", "'structured_outputs' takes one of json, regex, choice, json_object");
        }
        return r;
    }

    /** A JSON Schema given as an object (or a boolean), or as its JSON text (vLLM and TGI take both). */
    private static Requested schema(JsonNode value, String param) {
        JsonNode schema = value;
        if (schema.isTextual()) {
            try {
                schema = Json.MAPPER.readTree(schema.asText());
            } catch (java.io.IOException e) {
                throw ApiException.invalid(param, "'" + param + "' is not valid JSON: " + e.getMessage());
            }
        }
        if (!schema.isObject() && !schema.isBoolean()) {
            throw ApiException.invalid(param, "'" + param + "' must be a JSON Schema");
        }
        return new Requested(new ConstraintSpec(Kind.JSON_SCHEMA, Json.write(schema)), param);
    }

    /** TGI's {"type": "json" | "regex", "value": ...}. */
    static Requested tgi(JsonNode grammar) {
        if (grammar == null || grammar.isNull()) {
            return null;
        }
        if (!grammar.isObject()) {
            throw ApiException.invalid("parameters.grammar", "'parameters.grammar' must be {\"type\": \"json\" | \"regex\", \"value\": ...}");
        }
        JsonFields g = new JsonFields(grammar, "parameters.grammar.", Set.of("type", "value"), Map.of());
        String type = g.string("type", "");
        JsonNode value = g.raw("value");
        if (value == null) {
            throw ApiException.invalid("parameters.grammar.value", "'parameters.grammar.value' is required");
        }
        return switch (type) {
            case "json" -> schema(value, "parameters.grammar.value");
            case "regex" -> {
                if (!value.isTextual()) {
                    throw ApiException.invalid("parameters.grammar.value", "a regex grammar's value must be a string");
                }
                yield new Requested(new ConstraintSpec(Kind.REGEX, value.asText()), "parameters.grammar.value");
            }
            default -> throw ApiException.invalid("parameters.grammar.type", "'parameters.grammar.type' must be \"json\" or \"regex\"");
        };
    }
}
