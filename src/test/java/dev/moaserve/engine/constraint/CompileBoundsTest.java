package dev.moaserve.engine.constraint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dk.brics.automaton.Automaton;
import dk.brics.automaton.RegExp;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bounded constructions agree with dk.brics' own on the language; and constraints that are
 * cheap to send and costly to compile (exponential determinisation, long enums and choice lists,
 * many oneOf branches) end within a small factor of the deadline, refused (naming the bound) or
 * compiled; a compilation whose client left stops.
 */
class CompileBoundsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long DEADLINE_MS = 1_000;

    @Test
    void boundedConstructionsKeepTheLanguage() {
        Random random = new Random(11);
        for (int i = 0; i < 300; i++) {
            Automaton x = new RegExp(randomRegex(random, 3)).toAutomaton(false);
            Automaton y = new RegExp(randomRegex(random, 3)).toAutomaton(false);
            Budget budget = new Budget(60_000, 1_000_000);
            Automaton dx = Determinizer.of(x, budget, "");
            assertTrue(dx.isDeterministic());
            assertEquals(x, dx, "determinised " + x);
            assertEquals(x.intersection(y), Product.intersection(x, y, budget, ""));
            assertEquals(x.minus(y), Product.minus(x, y, budget, ""));
        }
    }

    private static String randomRegex(Random r, int depth) {
        if (depth == 0 || r.nextInt(4) == 0) {
            return switch (r.nextInt(4)) {
                case 0 -> "a";
                case 1 -> "[a-c]";
                case 2 -> "b";
                default -> "(ab|c)";
            };
        }
        String a = randomRegex(r, depth - 1);
        String b = randomRegex(r, depth - 1);
        return switch (r.nextInt(5)) {
            case 0 -> "(" + a + "|" + b + ")";
            case 1 -> a + b;
            case 2 -> "(" + a + ")*";
            case 3 -> "(" + a + "){1,3}";
            default -> "(" + a + ")?" + b;
        };
    }

    @Test
    void costlyConstraintsEndNearTheirDeadline() throws Exception {
        ArrayNode words = JSON.createArrayNode();
        Random random = new Random(3);
        for (int i = 0; i < 5_000; i++) {
            words.add("w" + Integer.toString(random.nextInt(1 << 30), 36) + i);
        }
        ArrayNode manyChoices = JSON.createArrayNode();
        for (int i = 0; i < 40_000; i++) {
            manyChoices.add("choice number " + i);
        }
        ArrayNode branches = JSON.createArrayNode();
        for (int i = 0; i < 60; i++) {
            ObjectNode o = branches.addObject().put("type", "object");
            o.putObject("properties").putObject("k" + i).put("type", i % 2 == 0 ? "integer" : "string");
            o.putArray("required").add("k" + i);
        }
        ConstraintSpec[] specs = {
                new ConstraintSpec(ConstraintSpec.Kind.REGEX, "(a|b)*a(a|b){18}"),
                new ConstraintSpec(ConstraintSpec.Kind.REGEX, "(a|b|ab|ba)*(a|b){10}b(a|b){12}"),
                new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, JSON.createObjectNode().set("enum", words).toString()),
                new ConstraintSpec(ConstraintSpec.Kind.CHOICE, manyChoices.toString()),
                new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, JSON.createObjectNode().set("oneOf", branches).toString()),
                new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA,
                        "{\"type\":\"string\",\"pattern\":\"(a|b)*a(a|b){16}\"}"),
        };
        try (Constraints constraints = new Constraints(() -> Vocabulary.ofTexts(printable()), 4,
                new Constraints.Limits(1, 4, DEADLINE_MS, 200_000))) {
            for (ConstraintSpec spec : specs) {
                long t0 = System.nanoTime();
                try {
                    constraints.submit(spec, () -> false).get(60, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    assertInstanceOf(ConstraintException.class, e.getCause(), spec.value());
                    String m = e.getCause().getMessage();
                    assertTrue(m.contains("states") || m.contains("ms to compile") || m.contains("characters")
                            || m.contains("too costly"), m);
                }
                long ms = (System.nanoTime() - t0) / 1_000_000;
                // a correctness bound, not a timing benchmark: ten times the deadline on a loaded machine
                assertTrue(ms < 10 * DEADLINE_MS, spec.kind() + " took " + ms + " ms");
            }
        }
    }

    @Test
    void deepNestingIsRefusedByName() throws Exception {
        String nested = "{\"type\":\"string\"}";
        for (int i = 0; i < 100; i++) {
            nested = "{\"type\":\"array\",\"items\":" + nested + "}";
        }
        String schema = nested;
        try (Constraints constraints = new Constraints(() -> Vocabulary.ofTexts(printable()), 4,
                new Constraints.Limits(1, 4, DEADLINE_MS, 200_000))) {
            var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> constraints.submit(
                    new ConstraintSpec(ConstraintSpec.Kind.JSON_SCHEMA, schema), () -> false).get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("nested more than " + JsonSchemaAutomaton.MAX_DEPTH), e.getCause().getMessage());
            String regex = "(".repeat(900) + "a" + ")".repeat(900);
            try {
                constraints.submit(new ConstraintSpec(ConstraintSpec.Kind.REGEX, regex), () -> false).get(30, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException refused) {
                assertInstanceOf(ConstraintException.class, refused.getCause()); // never a server error
            }
        }
    }

    @Test
    void anAbandonedCompilationStops() throws Exception {
        AtomicBoolean gone = new AtomicBoolean();
        try (Constraints constraints = new Constraints(() -> Vocabulary.ofTexts("a", "b"), 4,
                new Constraints.Limits(1, 4, 600_000, 50_000_000))) {
            var running = constraints.submit(new ConstraintSpec(ConstraintSpec.Kind.REGEX, "(a|b)*a(a|b){24}"), gone::get);
            Thread.sleep(200);
            gone.set(true);
            var e = assertThrows(java.util.concurrent.ExecutionException.class, () -> running.get(30, TimeUnit.SECONDS));
            assertTrue(e.getCause().getMessage().contains("abandoned"), e.getCause().getMessage());
            // the pool's one thread is free again: a small constraint compiles at once
            assertTrue(constraints.submit(new ConstraintSpec(ConstraintSpec.Kind.REGEX, "ab+"), () -> false)
                    .get(30, TimeUnit.SECONDS) != null);
        }
    }

    @Test
    void aFullCompilationQueueRefuses() {
        AtomicBoolean gone = new AtomicBoolean();
        try (Constraints constraints = new Constraints(() -> Vocabulary.ofTexts("a", "b"), 4,
                new Constraints.Limits(1, 1, 600_000, 50_000_000))) {
            ConstraintSpec slow = new ConstraintSpec(ConstraintSpec.Kind.REGEX, "(a|b)*a(a|b){24}");
            constraints.submit(slow, gone::get);
            assertThrows(java.util.concurrent.RejectedExecutionException.class, () -> {
                for (int i = 0; i < 3; i++) {
                    constraints.submit(slow, gone::get);
                }
            });
            gone.set(true);
        }
    }

    private static String[] printable() {
        String[] texts = new String[95];
        for (int c = 32; c < 127; c++) {
            texts[c - 32] = String.valueOf((char) c);
        }
        return texts;
    }
}
