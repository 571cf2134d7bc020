package dev.moaserve.engine.constraint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dk.brics.automaton.Automaton;
import dk.brics.automaton.RunAutomaton;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every string a schema's automaton accepts is valid against the schema (checked with an
 * independent JSON Schema validator, formats asserted), for many generated schemas; known
 * valid and invalid instances are accepted and refused; keywords outside the subset are named.
 */
class JsonSchemaAutomatonTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void generatedOutputsOfGeneratedSchemasValidate() throws Exception {
        Random random = new Random(7);
        int schemas = 0;
        int outputs = 0;
        for (int n = 0; n < 150; n++) {
            ObjectNode schema = SchemaGen.schema(random, 0);
            if (n % 5 == 0) {
                schema = SchemaGen.withDefs(random, schema);
            }
            Automaton a;
            try {
                a = JsonSchemaAutomaton.of(schema, new Budget(5_000, 200_000));
            } catch (ConstraintException unsatisfiable) {
                continue; // e.g. a oneOf whose branches overlap entirely
            }
            a.removeDeadTransitions(); // isEmpty() is only exact without dead states (the automaton may be nondeterministic)
            if (a.isEmpty()) {
                continue; // no value satisfies this schema (e.g. the branches of a oneOf overlap entirely)
            }
            schemas++;
            Walks walks = new Walks(a);
            for (int k = 0; k < 20; k++) {
                String out = walks.sample(random, random.nextInt(60));
                SchemaValidation.assertValid(schema, out);
                assertFalse(outsideStrings(out).matches("(?s).*\\s.*"), "compact, as documented: " + out);
                outputs++;
            }
        }
        assertTrue(schemas > 100, "too few schemas compiled: " + schemas);
        System.out.println("json schema automata: " + schemas + " schemas, " + outputs + " outputs validated");
    }

    @Test
    void acceptsAndRefusesKnownInstances() {
        RunAutomaton person = run("""
                {"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":5},
                "age":{"type":"integer","minimum":0,"maximum":130},"email":{"type":"string","format":"email"},
                "tags":{"type":"array","items":{"enum":["a","b"]},"maxItems":2}},
                "required":["name","age"],"additionalProperties":false}""");
        assertTrue(person.run("{\"name\":\"Ann\",\"age\":42}"));
        assertTrue(person.run("{\"name\":\"Ann\",\"age\":0,\"tags\":[\"a\",\"b\"]}"));
        assertTrue(person.run("{\"name\":\"A\\\"b\",\"age\":130,\"email\":\"x.y@ex.org\"}"));
        assertFalse(person.run("{\"age\":42,\"name\":\"Ann\"}"), "members in declared order");
        assertFalse(person.run("{\"name\":\"Ann\"}"), "age is required");
        assertFalse(person.run("{\"name\":\"\",\"age\":1}"), "minLength");
        assertFalse(person.run("{\"name\":\"Annabel\",\"age\":1}"), "maxLength");
        assertFalse(person.run("{\"name\":\"Ann\",\"age\":131}"), "maximum");
        assertFalse(person.run("{\"name\":\"Ann\",\"age\":-1}"), "minimum");
        assertFalse(person.run("{\"name\":\"Ann\",\"age\":042}"), "no leading zeros");
        assertFalse(person.run("{\"name\":\"Ann\",\"age\":1,\"tags\":[\"a\",\"b\",\"a\"]}"), "maxItems");
        assertFalse(person.run("{\"name\":\"Ann\", \"age\":1}"), "compact");

        RunAutomaton range = run("{\"type\":\"number\",\"minimum\":-2,\"maximum\":3}");
        for (String ok : List.of("-2", "-1.5", "0", "-0.25", "2.999", "3")) {
            assertTrue(range.run(ok), ok);
        }
        for (String bad : List.of("-2.5", "3.5", "4", "-3", "1e2", "3.000", "1.50", "-0")) { // one spelling per number
            assertFalse(range.run(bad), bad);
        }
        RunAutomaton negative = run("{\"type\":\"integer\",\"minimum\":-30,\"exclusiveMaximum\":-4}");
        assertTrue(negative.run("-30") && negative.run("-5") && !negative.run("-4") && !negative.run("-31") && !negative.run("0"));
        RunAutomaton one = run("{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"number\",\"minimum\":0,\"maximum\":1}]}");
        assertTrue(one.run("5") && one.run("0.5") && !one.run("1") && !one.run("0"), "values in both branches are not oneOf");
        RunAutomaton date = run("{\"type\":\"string\",\"format\":\"date-time\"}");
        assertTrue(date.run("\"2024-02-28T23:59:59Z\"") && date.run("\"2024-12-01T00:00:00.5+02:00\""));
        assertFalse(date.run("\"2024-13-01T00:00:00Z\""));
        RunAutomaton pattern = run("{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}\\\\d{3}$\"}");
        assertTrue(pattern.run("\"AB123\"") && !pattern.run("\"AB12\"") && !pattern.run("\"ab123\""));
        RunAutomaton contains = run("{\"type\":\"string\",\"pattern\":\"x+\",\"maxLength\":3}");
        assertTrue(contains.run("\"axb\"") && !contains.run("\"abc\""), "an unanchored pattern matches anywhere");
        RunAutomaton ref = run("{\"$defs\":{\"p\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"boolean\"}},"
                + "\"required\":[\"x\"]}},\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/p\"},\"minItems\":1}");
        assertTrue(ref.run("[{\"x\":true},{\"x\":false}]") && !ref.run("[]"));
        RunAutomaton any = new RunAutomaton(JsonSchemaAutomaton.anyObject(new Budget(5_000, 200_000)));
        assertTrue(any.run("{\"a\":[1,{\"b\":null}],\"c\":\"d\"}") && any.run("{}") && !any.run("[1]") && !any.run("{\"a\":}"));
    }

    @Test
    void oneOfExcludesWhatAnotherBranchAccepts() {
        // a pattern matches the decoded string: the escaped control character still contains "ab"
        RunAutomaton pattern = run("{\"oneOf\":[{\"type\":\"string\",\"pattern\":\"ab\"},{\"type\":\"string\"}]}");
        assertTrue(pattern.run("\"xy\"") && !pattern.run("\"ab\\u001D\"") && !pattern.run("\"\\\"ab\""));
        RunAutomaton quote = run("{\"type\":\"string\",\"pattern\":\"^a\\\"\\\\s$\"}");
        assertTrue(quote.run("\"a\\\"\\n\"") && quote.run("\"a\\\" \"") && !quote.run("\"a\\\"n\""));
        // a format writes fewer values than validators accept: the other branch must not write them
        RunAutomaton date = run("{\"oneOf\":[{\"type\":\"string\",\"format\":\"date\"},{\"type\":\"integer\"}]}");
        assertTrue(date.run("\"2024-01-28\"") && date.run("3"));
        RunAutomaton dateOrString = run("{\"oneOf\":[{\"type\":\"string\",\"format\":\"date\"},{\"type\":\"string\"}]}");
        assertFalse(dateOrString.run("\"2024-01-30\"") || dateOrString.run("\"hello\""), "every string is valid for both");
        // members in another order are the same object
        RunAutomaton order = run("{\"oneOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"},"
                + "\"b\":{\"type\":\"integer\"}},\"required\":[\"a\",\"b\"]},{\"type\":\"object\",\"properties\":"
                + "{\"b\":{\"type\":\"integer\"},\"a\":{\"type\":\"integer\"}},\"required\":[\"a\",\"b\"]}]}");
        assertFalse(order.run("{\"a\":1,\"b\":2}") || order.run("{\"b\":2,\"a\":1}"));
        // a discriminator still tells objects apart, extra members allowed or not
        RunAutomaton tagged = run("{\"oneOf\":[{\"type\":\"object\",\"properties\":{\"kind\":{\"const\":\"a\"},"
                + "\"x\":{\"type\":\"integer\"}},\"required\":[\"kind\"]},{\"type\":\"object\",\"properties\":"
                + "{\"kind\":{\"const\":\"b\"}},\"required\":[\"kind\"]}]}");
        assertTrue(tagged.run("{\"kind\":\"a\",\"x\":1}") && tagged.run("{\"kind\":\"b\"}") && !tagged.run("{\"kind\":\"c\"}"));
        // 1.0 is the integer 1: an enum of it is written 1, which the integer branch also accepts
        RunAutomaton numbers = run("{\"oneOf\":[{\"enum\":[1.0,2.5]},{\"type\":\"integer\"}]}");
        assertTrue(numbers.run("2.5") && numbers.run("3") && !numbers.run("1") && !numbers.run("1.0"));
    }

    @Test
    void keywordsOutsideTheSubsetAreNamed() {
        for (String[] c : List.of(
                new String[] {"{\"type\":\"string\",\"contentEncoding\":\"base64\"}", "contentEncoding"},
                new String[] {"{\"type\":\"array\",\"uniqueItems\":true}", "uniqueItems"},
                new String[] {"{\"type\":\"number\",\"multipleOf\":2}", "multipleOf"},
                new String[] {"{\"type\":\"number\",\"minimum\":0.5}", "non-integer bound"},
                new String[] {"{\"type\":\"string\",\"format\":\"hostname\"}", "hostname"},
                new String[] {"{\"type\":\"string\",\"pattern\":\"(?=a)b\"}", "lookaround"},
                new String[] {"{\"type\":\"string\",\"pattern\":\"(a)\\\\1\"}", "back-reference"},
                new String[] {"{\"$defs\":{\"t\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/t\"}}},\"$ref\":\"#/$defs/t\"}", "recursive"},
                new String[] {"{\"$ref\":\"http://example.com/s.json\"}", "$ref"},
                new String[] {"{\"properties\":{\"a\":{\"type\":\"string\"}}}", "without 'type'"},
                new String[] {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"b\"]}", "'b'"},
                new String[] {"{\"type\":\"date\"}", "unsupported type 'date'"})) {
            ConstraintException e = assertThrows(ConstraintException.class,
                    () -> JsonSchemaAutomaton.of(JSON.readTree(c[0]), new Budget(5_000, 200_000)), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + " → " + e.getMessage());
        }
    }

    @Test
    void compilationIsBoundedInSize() {
        // a time budget far above the state bound's reach, so a loaded machine cannot trip the wrong bound
        ConstraintException e = assertThrows(ConstraintException.class, () -> new Constraints(
                () -> Vocabulary.ofTexts("a", "b"), 4, 60_000, 50)
                .compile(new ConstraintSpec(ConstraintSpec.Kind.REGEX, "(a|b)*a(a|b){12}")));
        assertTrue(e.getMessage().contains("more than 50 states"), e.getMessage());
        // refused before anything huge is built (else this would run out of memory, not fail fast)
        long t0 = System.nanoTime();
        ConstraintException nested = assertThrows(ConstraintException.class, () -> RegexSyntax.fullMatch("((a{100}){100}){100}"));
        assertTrue(nested.getMessage().contains("nested repetitions"), nested.getMessage());
        ConstraintException arrays = assertThrows(ConstraintException.class, () -> JsonSchemaAutomaton.of(JSON.readTree(
                "{\"type\":\"array\",\"maxItems\":1000,\"items\":{\"type\":\"array\",\"maxItems\":1000,"
                        + "\"items\":{\"type\":\"string\",\"maxLength\":100}}}"), new Budget(5_000, 200_000)));
        assertTrue(arrays.getMessage().contains("more than 200000 states"), arrays.getMessage());
        assertTrue((System.nanoTime() - t0) / 1e9 < 10, "refused quickly");
        assertTrue(RegexSyntax.size("[A-Z]{3}-\\d{4}(x|yz)") < 20);
    }

    /** The text with string literals removed. */
    private static String outsideStrings(String json) {
        return json.replaceAll("\"(\\\\.|[^\"\\\\])*\"", "\"\"");
    }

    private static RunAutomaton run(String schema) {
        try {
            return new RunAutomaton(JsonSchemaAutomaton.of(JSON.readTree(schema), new Budget(5_000, 200_000)));
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
