using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MLNetExtensions.Tests.SqueezeTime;

/// <summary>
/// Turns off libtorch's oneDNN (MKLDNN) convolution path for this test process, so CPU convolutions use ATen's own
/// im2col + GEMM kernels.
/// </summary>
/// <remarks>
/// On the AMD EPYC machines used here (AVX-512 incl. bf16/vp2intersect), libtorch 2.10's oneDNN 3.7.1 returns wrong
/// float32 convolutions for ordinary shapes, reproducibly: a 24→8, 5×5, stride-2 conv on 64×64 is off by ≈16 against
/// float64; capping oneDNN at AVX2 (ONEDNN_MAX_CPU_ISA) fixes that shape but breaks 3×3 convs on 10×5 maps (errors ≈15,
/// sometimes NaN). With oneDNN disabled every shape tested matches float64 to ~1e-5. TorchSharp does not expose
/// PyTorch's <c>torch.backends.mkldnn.enabled</c>, so this calls <c>at::globalContext().setUserEnabledMkldnn(false)</c>
/// in libtorch_cpu directly. The flag is read on every conv call. Set MLNETEXT_KEEP_MKLDNN=1 to leave oneDNN on.
/// Belongs in shared setup (Core / test infrastructure, and product start-up); kept here until the lead moves it.
/// See <see cref="ConvolutionBackendTests"/>.
/// </remarks>
internal static class MkldnnGuard
{
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledMkldnn(IntPtr context);

    /// <summary>Why disabling failed, if it did (reported by the guard test rather than crashing the test host).</summary>
    public static string? Failure { get; private set; }

    /// <summary>Whether libtorch will use oneDNN for convolutions now.</summary>
    public static bool MkldnnEnabled => UserEnabledMkldnn(GlobalContext());

    [ModuleInitializer]
    internal static void Apply()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MLNETEXT_KEEP_MKLDNN") == "1") return;
        try
        {
            // Let TorchSharp load (and, on Debian 12, patch) its native libraries first; libtorch_cpu then resolves to the same copy.
            using (TorchSharp.torch.zeros(1)) { }
            SetUserEnabledMkldnn(GlobalContext(), false);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException)
        {
            Failure = e.Message;
        }
    }
}
