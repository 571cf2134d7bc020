package dev.moaserve.packaged;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * On an AMD processor the packaged server's MKL runs the kernels of the processor's instruction
 * sets, not its generic ones, and {@code moa.mkl-amd-kernels=false} leaves it as MKL chooses. MKL
 * itself says which it took: with {@code MKL_VERBOSE=1} its first line names the processors its
 * kernels are for. The server's first step (before readiness) calls MKL.
 */
class PackagedMklKernelsIT {
    private static final String GENERIC = "Intel(R) Architecture processors";

    @Test
    void amdProcessorGetsTheKernelsOfItsInstructionSets() throws Exception {
        assumeAmd();
        String header = mklHeader(Map.of());
        assertTrue(header.contains("Advanced Vector Extensions"), header);
        assertFalse(header.contains(GENERIC), header);
    }

    @Test
    void settingOffLeavesMklAsItChooses() throws Exception {
        assumeAmd();
        String header = mklHeader(Map.of("moa.mkl-amd-kernels", "false"));
        assertTrue(header.contains(GENERIC), header);
    }

    /** MKL's verbose header (its first line) in the ready server's output, and the generation works. */
    private static String mklHeader(Map<String, String> settings) throws Exception {
        try (PackagedApp app = PackagedApp.start(settings, Map.of("MKL_VERBOSE", "1"), Duration.ofMinutes(2))) {
            var r = app.post("/v1/completions", "{\"prompt\":\"ROMEO:\",\"max_tokens\":4}");
            assertEquals(200, r.statusCode(), r.body());
            String out = app.output();
            return out.lines().filter(l -> l.startsWith("MKL_VERBOSE oneMKL") || l.startsWith("MKL_VERBOSE Intel"))
                    .findFirst().orElseThrow(() -> new AssertionError("no MKL_VERBOSE header:\n" + out));
        }
    }

    private static void assumeAmd() throws Exception {
        String vendor = "";
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (Files.exists(cpuinfo)) {
            try (Stream<String> lines = Files.lines(cpuinfo)) {
                vendor = lines.filter(l -> l.startsWith("vendor_id")).findFirst().orElse("");
            }
        }
        String arch = System.getProperty("os.arch");
        Assumptions.assumeTrue(vendor.contains("AuthenticAMD") && (arch.equals("amd64") || arch.equals("x86_64")),
                "not an AMD x86-64 processor (" + vendor + ", " + arch + "): MKL's vendor check does not apply");
    }
}
