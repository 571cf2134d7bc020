package dev.moaserve.packaged;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * lm-evaluation-harness runs unchanged against the packaged server: its real CLI, model
 * {@code local-completions} with {@code tokenizer_backend=remote} (the server's /tokenizer_info,
 * /tokenize, /detokenize), token-id requests and {@code --batch_size 4} (several prompts per
 * completions request), on a small local multiple-choice task. Python's lm-eval is installed into
 * a venv under target/ from the machine's package index; where it cannot be, the test is skipped
 * with a message.
 */
class LmEvalCliIT {
    private static final Path VENV = Path.of("target", "lm-eval-venv");
    /** lm-eval's own dependencies that a loglikelihood task through an API model needs (the others are optional for it). */
    private static final List<String> DEPENDENCIES = List.of("datasets", "dill", "jinja2", "more_itertools", "numpy",
            "sacrebleu", "scikit-learn", "tqdm", "typing_extensions", "requests", "aiohttp", "tenacity", "pytablewriter",
            "sqlitedict", "word2number", "rouge-score", "evaluate");

    @Test
    void theRealCliScoresALocalTaskWithARemoteTokenizerInBatches() throws Exception {
        Path lmEval = install();
        Path dir = Files.createTempDirectory("moa-lm-eval");
        Path data = dir.resolve("tiny.jsonl");
        Files.writeString(data, String.join("\n",
                "{\"context\": \"ROMEO:\\nBut soft, what light through yonder\", \"choices\": [\" window breaks?\", \" xqzv jjk?\"], \"label\": 0}",
                "{\"context\": \"To be, or not to\", \"choices\": [\" be\", \" qx\"], \"label\": 0}",
                "{\"context\": \"First Citizen:\\nBefore we proceed any further, hear me\", \"choices\": [\" speak.\", \" zzqx.\"], \"label\": 0}",
                "{\"context\": \"All:\\nSpeak,\", \"choices\": [\" speak.\", \" kkkk.\"], \"label\": 0}",
                "{\"context\": \"KING HENRY:\\nOnce more unto the\", \"choices\": [\" breach\", \" qqqqq\"], \"label\": 0}") + "\n");
        Files.writeString(dir.resolve("moa_tiny.yaml"), String.join("\n", "task: moa_tiny", "dataset_path: json",
                "dataset_kwargs:", "  data_files:", "    test: " + data.toAbsolutePath(), "test_split: test",
                "output_type: multiple_choice", "doc_to_text: \"{{context}}\"", "doc_to_choice: \"{{choices}}\"",
                "doc_to_target: \"{{label}}\"", "metric_list:", "  - metric: acc") + "\n");
        Path out = dir.resolve("out");
        try (PackagedApp app = PackagedApp.start(Map.of("moa.warm-up-requests", "0"), Duration.ofMinutes(2))) {
            Process p = new ProcessBuilder(lmEval.toString(), "--model", "local-completions", "--model_args",
                    "model=moa-shakespeare,base_url=http://127.0.0.1:" + app.port + "/v1/completions,tokenizer_backend=remote,"
                            + "tokenized_requests=True,num_concurrent=1,max_retries=1",
                    "--tasks", "moa_tiny", "--include_path", dir.toString(), "--batch_size", "4", "--output_path", out.toString())
                    .redirectErrorStream(true).redirectOutput(dir.resolve("lm-eval.log").toFile()).start();
            assertTrue(p.waitFor(5, TimeUnit.MINUTES), "lm-eval did not finish");
            String log = Files.readString(dir.resolve("lm-eval.log"));
            Path results;
            try (Stream<Path> files = Files.walk(out)) {
                results = files.filter(f -> f.getFileName().toString().startsWith("results_")).findFirst()
                        .orElseThrow(() -> new AssertionError("no results (exit " + p.exitValue() + "):\n" + tail(log)));
            }
            JsonNode r = new ObjectMapper().readTree(results.toFile()).at("/results/moa_tiny");
            System.out.println("lm-eval: " + r);
            assertEquals(5, r.get("sample_len").asInt());
            // the Shakespeare continuation is the likelier one each time: the scores are the model's
            assertEquals(1.0, r.get("acc,none").asDouble(), 1e-9, r.toString());
            // 10 scored continuations in batches of 4: requests of several prompts each
            assertTrue(app.output().contains("outcome=n=4"), "no request of 4 prompts:\n" + app.output());
        }
    }

    /** lm_eval in a venv under target/, or the test is skipped saying why. */
    private static Path install() throws Exception {
        Path lmEval = VENV.resolve("bin").resolve("lm_eval");
        if (Files.isExecutable(lmEval) && run(List.of(lmEval.toString(), "--help")) == 0) {
            return lmEval;
        }
        Assumptions.assumeTrue(run(List.of("python3", "-m", "venv", VENV.toString())) == 0,
                "lm-eval CLI test skipped: python3 -m venv is not available");
        String pip = VENV.resolve("bin").resolve("pip").toString();
        Assumptions.assumeTrue(run(List.of(pip, "install", "-q", "--retries", "0", "--timeout", "15", "--no-deps", "lm-eval")) == 0,
                "lm-eval CLI test skipped: pip cannot install lm-eval here");
        for (String d : DEPENDENCIES) {
            run(List.of(pip, "install", "-q", "--retries", "0", "--timeout", "15", d)); // those the index lacks are optional here
        }
        Assumptions.assumeTrue(run(List.of(lmEval.toString(), "--help")) == 0,
                "lm-eval CLI test skipped: lm_eval does not start (a dependency is missing from this machine's index)");
        return lmEval;
    }

    private static int run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(new ArrayList<>(command)).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(10, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    private static String tail(String log) {
        return log.length() > 4000 ? log.substring(log.length() - 4000) : log;
    }
}
