package dev.moaserve.engine.constraint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.List;
import java.util.Random;

/** Random JSON Schemas of the supported subset (tests of the compiler and of the API). */
public final class SchemaGen {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SchemaGen() {}

    public static ObjectNode schema(Random r, int depth) {
        ObjectNode s = JSON.createObjectNode();
        int kind = depth >= 2 ? r.nextInt(5) : r.nextInt(9);
        switch (kind) {
            case 0 -> {
                s.put("type", "string");
                switch (r.nextInt(6)) {
                    case 0 -> s.put("minLength", r.nextInt(3)).put("maxLength", 3 + r.nextInt(5));
                    case 1 -> s.putArray("enum").add("red").add("green").add("a \"quoted\" one");
                    case 2 -> s.put("pattern", r.nextBoolean() ? "^[a-z]{2,4}-\\d+$" : "ab");
                    case 3 -> s.put("format", List.of("date", "date-time", "uuid", "email", "time", "ipv4").get(r.nextInt(6)));
                    case 4 -> s.put("const", "fixed");
                    default -> { }
                }
            }
            case 1 -> {
                s.put("type", "integer");
                if (r.nextBoolean()) {
                    int lo = r.nextInt(200) - 100;
                    s.put("minimum", lo).put("maximum", lo + r.nextInt(300));
                } else if (r.nextBoolean()) {
                    s.put("exclusiveMinimum", r.nextInt(50) - 25);
                }
            }
            case 2 -> {
                s.put("type", "number");
                if (r.nextBoolean()) {
                    int lo = r.nextInt(20) - 10;
                    s.put("minimum", lo).put("maximum", lo + r.nextInt(20));
                }
            }
            case 3 -> s.put("type", "boolean");
            case 4 -> s.putArray("type").add("string").add("null");
            case 5, 6 -> {
                s.put("type", "object");
                ObjectNode props = s.putObject("properties");
                ArrayNode required = JSON.createArrayNode();
                int n = 1 + r.nextInt(4);
                for (int i = 0; i < n; i++) {
                    String name = List.of("id", "name", "when", "ok", "items", "x y", "é").get(r.nextInt(7)) + i;
                    props.set(name, schema(r, depth + 1));
                    if (r.nextBoolean()) {
                        required.add(name);
                    }
                }
                if (!required.isEmpty()) {
                    s.set("required", required);
                }
                s.put("additionalProperties", false);
            }
            case 7 -> {
                s.put("type", "array");
                s.set("items", schema(r, depth + 1));
                if (r.nextBoolean()) {
                    s.put("minItems", r.nextInt(2)).put("maxItems", 2 + r.nextInt(3));
                }
            }
            default -> {
                ArrayNode branches = s.putArray(r.nextBoolean() ? "anyOf" : "oneOf");
                branches.add(schema(r, depth + 1));
                branches.add(schema(r, depth + 1));
            }
        }
        return s;
    }

    public static ObjectNode withDefs(Random r, ObjectNode schema) {
        ObjectNode root = JSON.createObjectNode();
        root.putObject("$defs").set("thing", schema);
        root.put("type", "array");
        root.putObject("items").put("$ref", "#/$defs/thing");
        root.put("maxItems", 3);
        return root;
    }
}
