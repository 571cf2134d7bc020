package dev.moaserve.engine.constraint;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dk.brics.automaton.Automaton;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A JSON Schema (a documented subset) as the regular language of its compact serialisations: no
 * whitespace, object members in the order the schema declares them, optional members present or
 * not. Every string the automaton accepts is valid against the schema; a keyword whose meaning
 * cannot be kept exactly is refused, never loosened (docs/structured-output.md lists the subset).
 */
final class JsonSchemaAutomaton {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Keywords that only annotate: accepted and ignored. */
    private static final Set<String> ANNOTATIONS = Set.of("title", "description", "examples", "default", "$schema",
            "$id", "$comment", "deprecated", "readOnly", "writeOnly", "$defs", "definitions");

    private static final List<String> TYPE_SPECIFIC = List.of("properties", "required", "additionalProperties", "items",
            "minItems", "maxItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
            "exclusiveMinimum", "exclusiveMaximum");

    /** Depth of nesting {@code {"type": "object"}} without properties (and json_object) allows. */
    static final int FREE_DEPTH = 3;

    private final JsonNode root;
    private final Budget budget;
    private final Set<String> resolving = new HashSet<>();
    private int depth;

    /**
     * Builds the other side: a superset of the valid values' compact texts (formats, depth limits
     * and member order let everything through). A oneOf branch subtracts its siblings' supersets:
     * subtracting what they produce (fewer values than they accept) would leave values valid
     * against two branches.
     */
    private final boolean widened;

    private JsonSchemaAutomaton(JsonNode root, Budget budget, boolean widened) {
        this.root = root;
        this.budget = budget;
        this.widened = widened;
    }

    static Automaton of(JsonNode schema, Budget budget) {
        return new JsonSchemaAutomaton(schema, budget, false).schema(schema, "");
    }

    /** Any JSON object, nested at most {@link #FREE_DEPTH} deep (response_format json_object). */
    static Automaton anyObject(Budget budget) {
        return new JsonSchemaAutomaton(JSON.createObjectNode(), budget, false).freeObject(FREE_DEPTH);
    }

    /** Deepest nesting of subschemas compiled (each level is a few stack frames of the compiler). */
    static final int MAX_DEPTH = 64;

    private Automaton schema(JsonNode s, String at) {
        budget.check(at);
        if (++depth > MAX_DEPTH) {
            throw new ConstraintException("schema" + at + " is nested more than " + MAX_DEPTH + " levels deep");
        }
        try {
            return schemaAtDepth(s, at);
        } finally {
            depth--;
        }
    }

    private Automaton schemaAtDepth(JsonNode s, String at) {
        if (s.isBoolean()) {
            if (!s.asBoolean()) {
                throw new ConstraintException("schema" + at + " is false: no value is valid");
            }
            return widened ? Automaton.makeAnyString() : freeValue(FREE_DEPTH);
        }
        if (!s.isObject()) {
            throw new ConstraintException("schema" + at + " must be an object or a boolean");
        }
        List<Automaton> all = new ArrayList<>();
        if (s.has("$ref")) {
            all.add(ref(s.get("$ref").asText(), at));
        }
        if (s.has("enum") || s.has("const")) {
            all.add(literals(s.has("const") ? List.of(s.get("const")) : list(s.get("enum"), at + ".enum"), at));
        }
        if (s.has("anyOf")) {
            all.add(union(branches(s.get("anyOf"), at + ".anyOf"), at));
        }
        if (s.has("oneOf")) {
            List<Automaton> produced = branches(s.get("oneOf"), at + ".oneOf");
            all.add(widened ? union(produced, at) : exactlyOne(produced,
                    new JsonSchemaAutomaton(root, budget, true).branches(s.get("oneOf"), at + ".oneOf"), at + ".oneOf"));
        }
        if (s.has("allOf")) {
            Automaton a = null;
            for (Automaton b : branches(s.get("allOf"), at + ".allOf")) {
                a = a == null ? b : budget.intersection(a, b, at);
            }
            all.add(a);
        }
        if (s.has("type")) {
            all.add(typed(s, at));
        } else {
            for (String k : TYPE_SPECIFIC) {
                if (s.has(k)) {
                    // without a type, JSON Schema lets every other type through: say which type is meant
                    throw new ConstraintException("schema" + at + " uses '" + k + "' without 'type': add the type");
                }
            }
        }
        Set<String> known = Set.of("$ref", "enum", "const", "anyOf", "oneOf", "allOf", "type", "properties", "required",
                "additionalProperties", "items", "minItems", "maxItems", "minLength", "maxLength", "pattern", "format",
                "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum");
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k) && !ANNOTATIONS.contains(k)) {
                throw new ConstraintException("unsupported JSON Schema keyword '" + k + "' at schema" + at);
            }
        }
        if (all.isEmpty()) {
            return widened ? Automaton.makeAnyString() : freeValue(FREE_DEPTH); // {} accepts anything
        }
        Automaton a = all.get(0);
        for (int i = 1; i < all.size(); i++) {
            a = budget.intersection(a, all.get(i), at);
        }
        return at.isEmpty() ? a : budget.reduced(a, at); // the root is minimised once, by the caller
    }

    private Automaton typed(JsonNode s, String at) {
        JsonNode t = s.get("type");
        List<String> types = new ArrayList<>();
        if (t == null) {
            throw new ConstraintException("schema" + at + " needs a 'type'");
        } else if (t.isTextual()) {
            types.add(t.asText());
        } else if (t.isArray()) {
            t.forEach(x -> types.add(x.asText()));
        } else {
            throw new ConstraintException("schema" + at + ".type must be a string or an array of strings");
        }
        List<Automaton> alternatives = new ArrayList<>();
        for (String type : types) {
            alternatives.add(switch (type) {
                case "object" -> object(s, at);
                case "array" -> array(s, at);
                case "string" -> string(s, at);
                case "integer" -> Numbers.integer(bound(s, "minimum", at), bound(s, "maximum", at),
                        bound(s, "exclusiveMinimum", at), bound(s, "exclusiveMaximum", at), at);
                case "number" -> Numbers.number(bound(s, "minimum", at), bound(s, "maximum", at),
                        bound(s, "exclusiveMinimum", at), bound(s, "exclusiveMaximum", at), at);
                case "boolean" -> Automaton.makeString("true").union(Automaton.makeString("false"));
                case "null" -> Automaton.makeString("null");
                default -> throw new ConstraintException("unsupported type '" + type + "' at schema" + at);
            });
        }
        return union(alternatives, at);
    }

    private static JsonNode bound(JsonNode s, String key, String at) {
        JsonNode b = s.get(key);
        if (b != null && !b.isNumber()) {
            throw new ConstraintException("schema" + at + "." + key + " must be a number");
        }
        return b;
    }

    private Automaton object(JsonNode s, String at) {
        JsonNode props = s.get("properties");
        Set<String> required = new HashSet<>();
        if (s.has("required")) {
            s.get("required").forEach(r -> required.add(r.asText()));
        }
        if (props == null || props.isEmpty()) {
            if (!required.isEmpty()) {
                throw new ConstraintException("schema" + at + ".required names properties the schema does not define: " + required);
            }
            return s.has("additionalProperties") && s.get("additionalProperties").isBoolean()
                    && !s.get("additionalProperties").asBoolean() ? Automaton.makeString("{}")
                    : widened ? Automaton.makeAnyString() : freeObject(FREE_DEPTH - 1);
        }
        List<String> names = new ArrayList<>();
        List<Automaton> members = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            names.add(e.getKey());
            members.add(Automaton.makeString(quote(e.getKey()) + ":").concatenate(schema(e.getValue(), at + ".properties." + e.getKey())));
        }
        for (String r : required) {
            if (!names.contains(r)) {
                throw new ConstraintException("schema" + at + ".required names '" + r + "', which is not in its properties");
            }
        }
        JsonNode additional = s.get("additionalProperties");
        boolean closed = additional != null && additional.isBoolean() && !additional.asBoolean();
        return widened ? ObjectMembers.anyOrder(members, names, closed) : ObjectMembers.declaredOrder(members, names, required);
    }

    private Automaton array(JsonNode s, String at) {
        Automaton item = s.has("items") ? schema(s.get("items"), at + ".items")
                : widened ? Automaton.makeAnyString() : freeValue(FREE_DEPTH - 1);
        int min = count(s, "minItems", 0, at);
        int max = count(s, "maxItems", -1, at);
        if (max >= 0 && max < min) {
            throw new ConstraintException("schema" + at + ": maxItems < minItems");
        }
        if (max == 0) {
            return Automaton.makeString("[]");
        }
        budget.expect((long) item.getNumberOfStates() * Math.max(min, Math.max(max, 1)), at);
        Automaton more = Automaton.makeChar(',').concatenate(item);
        Automaton tail = max < 0 ? more.repeat(Math.max(0, min - 1)) : more.repeat(Math.max(0, min - 1), max - 1);
        Automaton items = item.concatenate(tail);
        if (min == 0) {
            items = items.optional();
        }
        return Automaton.makeChar('[').concatenate(items).concatenate(Automaton.makeChar(']'));
    }

    private Automaton string(JsonNode s, String at) {
        int min = count(s, "minLength", 0, at);
        int max = count(s, "maxLength", -1, at);
        if (max >= 0 && max < min) {
            throw new ConstraintException("schema" + at + ": maxLength < minLength");
        }
        Automaton content = JsonText.content(min, max);
        budget.expect(12L * Math.max(min, max), at); // a string character is about a dozen states
        if (s.has("pattern")) {
            // the pattern constrains the decoded string: its language as JSON text, escapes and all
            Automaton p = JsonText.encoded(RegexSyntax.search(s.get("pattern").asText()));
            budget.expect((long) p.getNumberOfStates() * content.getNumberOfStates(), at);
            content = budget.intersection(content, p, at);
        }
        if (s.has("format") && !widened) { // formats produce fewer values than validators accept
            Automaton f = Formats.of(s.get("format").asText(), at);
            budget.expect((long) f.getNumberOfStates() * content.getNumberOfStates(), at);
            content = budget.intersection(content, f, at);
        }
        return Automaton.makeChar('"').concatenate(content).concatenate(Automaton.makeChar('"'));
    }

    private static int count(JsonNode s, String key, int absent, String at) {
        JsonNode n = s.get(key);
        if (n == null) {
            return absent;
        }
        if (!n.canConvertToInt() || n.asInt() < 0 || !n.isIntegralNumber()) {
            throw new ConstraintException("schema" + at + "." + key + " must be a non-negative integer");
        }
        if (n.asInt() > 10_000) {
            throw new ConstraintException("schema" + at + "." + key + " over 10000 is not supported");
        }
        return n.asInt();
    }

    private Automaton ref(String ref, String at) {
        String path;
        if (ref.startsWith("#/$defs/")) {
            path = "$defs";
        } else if (ref.startsWith("#/definitions/")) {
            path = "definitions";
        } else {
            throw new ConstraintException("unsupported $ref '" + ref + "' at schema" + at + ": only #/$defs/… and #/definitions/…");
        }
        String name = ref.substring(path.length() + 3).replace("~1", "/").replace("~0", "~");
        JsonNode target = root.path(path).get(name);
        if (target == null) {
            throw new ConstraintException("$ref '" + ref + "' at schema" + at + " points at nothing");
        }
        if (!resolving.add(ref)) {
            throw new ConstraintException("recursive $ref '" + ref + "' is not supported: unbounded nesting is not a regular language");
        }
        try {
            return schema(target, "." + path + "." + name);
        } finally {
            resolving.remove(ref);
        }
    }

    private static List<JsonNode> list(JsonNode n, String at) {
        if (n == null || !n.isArray() || n.isEmpty()) {
            throw new ConstraintException("schema" + at + " must be a non-empty array");
        }
        List<JsonNode> out = new ArrayList<>();
        n.forEach(out::add);
        return out;
    }

    private List<Automaton> branches(JsonNode n, String at) {
        List<Automaton> out = new ArrayList<>();
        int i = 0;
        for (JsonNode b : list(n, at)) {
            out.add(schema(b, at + "[" + i++ + "]"));
        }
        return out;
    }

    /**
     * The values a branch produces that no other branch accepts (oneOf): each branch's produced
     * texts minus the widened languages of the others.
     */
    private Automaton exactlyOne(List<Automaton> produced, List<Automaton> widened, String at) {
        List<Automaton> only = new ArrayList<>();
        for (int i = 0; i < produced.size(); i++) {
            List<Automaton> others = new ArrayList<>(widened);
            others.remove(i);
            only.add(others.isEmpty() ? produced.get(i) : budget.minus(produced.get(i), union(others, at), at + "[" + i + "]"));
        }
        return union(only, at);
    }

    /**
     * enum and const values as text. A number is spelled as the number automata spell it (1.0 as
     * 1), so a text means one value whichever keyword produced it; widened, an object or array
     * literal lets everything through (its members may come in any order).
     */
    private Automaton literals(List<JsonNode> values, String at) {
        List<String> texts = new ArrayList<>();
        boolean anything = false;
        for (JsonNode v : values) {
            if (v.isNumber()) {
                if (v.isDouble() && !Double.isFinite(v.doubleValue())) {
                    throw new ConstraintException("the number " + v + " in an enum or const is out of range");
                }
                texts.add(v.decimalValue().stripTrailingZeros().toPlainString());
            } else if (widened && v.isContainerNode()) {
                anything = true;
            } else {
                try {
                    texts.add(JSON.writeValueAsString(v));
                } catch (JsonProcessingException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        if (anything) {
            return Automaton.makeAnyString();
        }
        budget.expect(texts.stream().mapToLong(String::length).sum(), at);
        budget.check(at);
        return Automaton.makeStringUnion(texts.toArray(new String[0])); // deterministic and minimal as built
    }

    /** One automaton for the alternatives, linear in their sizes (one at a time would copy the union so far each time). */
    private Automaton union(List<Automaton> as, String at) {
        budget.expect(as.stream().mapToLong(Automaton::getNumberOfStates).sum(), at);
        budget.check(at);
        return as.isEmpty() ? Automaton.makeEmpty() : Automaton.union(as);
    }

    private final Map<Integer, Automaton> free = new java.util.HashMap<>();

    /** Any JSON value nested at most {@code depth} deep (scalars at depth 0). */
    private Automaton freeValue(int depth) {
        Automaton known = free.get(depth);
        if (known != null) {
            return known.clone();
        }
        Automaton a = buildFreeValue(depth);
        free.put(depth, a);
        return a.clone();
    }

    private Automaton buildFreeValue(int depth) {
        Automaton scalar = union(List.of(JsonText.string(), Numbers.number(null, null, null, null, ""),
                Automaton.makeString("true"), Automaton.makeString("false"), Automaton.makeString("null")), "");
        if (depth <= 0) {
            return scalar;
        }
        Automaton inner = freeValue(depth - 1);
        Automaton array = Automaton.makeChar('[').concatenate(inner.concatenate(Automaton.makeChar(',').concatenate(inner).repeat())
                .optional()).concatenate(Automaton.makeChar(']'));
        budget.check("");
        return minimal(union(List.of(scalar, array, freeObject(depth)), ""));
    }

    private Automaton freeObject(int depth) {
        Automaton inner = depth <= 0 ? freeValue(0) : freeValue(depth - 1);
        Automaton member = JsonText.string().concatenate(Automaton.makeChar(':')).concatenate(inner);
        Automaton members = member.concatenate(Automaton.makeChar(',').concatenate(member).repeat()).optional();
        return minimal(Automaton.makeChar('{').concatenate(members).concatenate(Automaton.makeChar('}')));
    }

    private Automaton minimal(Automaton built) {
        Automaton a = budget.deterministic(built, "");
        a.minimize();
        return a;
    }

    static String quote(String s) {
        try {
            return JSON.writeValueAsString(s);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
