package dev.moaserve.model;

import com.sun.jna.NativeLibrary;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Where the MKL vendor library applies, and that once libtorch runs its functions answer in the process's global scope. */
class MklKernelsTest {
    @Test
    void appliesToAmdOnLinuxX86Only() {
        assertTrue(MklKernels.applies("linux-x86_64", "AuthenticAMD"));
        assertFalse(MklKernels.applies("linux-x86_64", "GenuineIntel"));
        assertFalse(MklKernels.applies("linux-aarch64", "AuthenticAMD"));
        assertFalse(MklKernels.applies("win-x86_64", "AuthenticAMD"));
        assertFalse(MklKernels.applies("linux-x86_64", ""));
    }

    @Test
    void loadedBeforeLibtorchOnAmd() {
        Djl.engine();
        boolean amd = MklKernels.applies(NativePlatform.current(), MklKernels.cpuVendor());
        assertEquals(amd, MklKernels.loaded(), "vendor " + MklKernels.cpuVendor());
        Assumptions.assumeTrue(amd, "not an AMD x86-64 Linux machine: nothing is loaded");
        // the symbols resolve, in the scope libtorch's own calls search first, to the library's
        // definitions (libtorch_cpu is loaded locally, so its own are not in that scope)
        NativeLibrary process = NativeLibrary.getProcess();
        assertEquals(1, process.getFunction("mkl_serv_intel_cpu_true").invokeInt(new Object[0]));
        assertEquals(1, process.getFunction("mkl_serv_intel_cpu").invokeInt(new Object[0]));
    }
}
