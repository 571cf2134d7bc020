package dev.moaserve.model;

import com.sun.jna.Library;
import com.sun.jna.NativeLibrary;
import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.stream.Stream;

/**
 * MKL's kernels for the processor's instruction sets on AMD processors. libtorch's MKL asks two
 * functions ({@code mkl_serv_intel_cpu}, {@code …_true}) whether the processor is Intel's before it
 * looks at the instruction sets, and on any other vendor takes its generic kernels ({@code MKL_VERBOSE}:
 * "Intel(R) Architecture processors"). Those are what every float32 matmul of a CPU step runs:
 * measured on an AMD EPYC (AVX-512), a one-row sgemv ~1.4× and the step's batched gemms of 64 rows
 * 1.2–1.35× slower than MKL's AVX2 kernels (docs/performance.md "MKL's kernels on AMD").
 * libtorch_cpu calls them through its PLT, so a library defining them that is loaded first
 * with {@code RTLD_GLOBAL} answers in their place: MKL then picks its kernels by the
 * instruction sets the processor reports ({@code MKL_VERBOSE}: "Intel(R) Advanced Vector
 * Extensions 2 …"). The library is 5 KB with no dependencies, built from
 * {@code src/main/native/mkl_vendor.c}. Off with {@code moa.mkl-amd-kernels=false}; nothing is
 * done on other vendors, architectures or systems.
 */
final class MklKernels {
    private static final Logger LOG = Logger.getLogger(MklKernels.class);
    static final String SETTING = "moa.mkl-amd-kernels";
    private static final String LIBRARY = "dev/moaserve/native/linux-x86_64/libmoa_mkl_vendor.so";
    private static final int RTLD_NOW = 2;
    private static final int RTLD_GLOBAL = 0x100;
    /** Held for the process's life: JNA closes a library whose NativeLibrary is collected. */
    private static volatile NativeLibrary library;

    private MklKernels() {}

    /** Loads the library where it applies; call before libtorch loads (its first MKL call decides). */
    static synchronized void chooseByInstructionSet() {
        if (library != null || !enabled() || !applies(NativePlatform.current(), cpuVendor())) {
            return;
        }
        try (InputStream in = MklKernels.class.getClassLoader().getResourceAsStream(LIBRARY)) {
            if (in == null) {
                return;
            }
            Path file = Files.createTempFile("moa-mkl-vendor", ".so");
            try {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
                library = NativeLibrary.getInstance(file.toString(), Map.of(Library.OPTION_OPEN_FLAGS, RTLD_NOW | RTLD_GLOBAL));
            } finally {
                Files.deleteIfExists(file); // a loaded library stays mapped
            }
            LOG.infof("AMD processor: MKL picks its kernels by instruction set (%s)", SETTING);
        } catch (IOException | RuntimeException | LinkageError e) {
            // e.g. a temporary directory mounted noexec: slower matmuls, same results
            LOG.infof("AMD processor: MKL keeps its generic kernels (%s)", e.toString());
        }
    }

    /** Whether the library is loaded in this process. */
    static boolean loaded() {
        return library != null;
    }

    /** Whether a machine needs the library: Linux on x86-64 (DJL's platform name), an AMD processor. */
    static boolean applies(String platform, String vendor) {
        return platform.equals("linux-x86_64") && vendor.equals("AuthenticAMD");
    }

    /** The processor's vendor as the kernel reports it ({@code vendor_id}), or "" where unknown. */
    static String cpuVendor() {
        try (Stream<String> lines = Files.lines(Path.of("/proc/cpuinfo"))) {
            return lines.filter(l -> l.startsWith("vendor_id")).findFirst()
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("");
        } catch (IOException | RuntimeException e) {
            return ""; // not Linux, or no /proc: not a machine this applies to
        }
    }

    private static boolean enabled() {
        try {
            return ConfigProvider.getConfig().getOptionalValue(SETTING, Boolean.class).orElse(true);
        } catch (RuntimeException | LinkageError noConfig) {
            return !"false".equalsIgnoreCase(System.getProperty(SETTING, System.getenv("MOA_MKL_AMD_KERNELS")));
        }
    }
}
