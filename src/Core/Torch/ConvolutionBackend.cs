using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Torch;

/// <summary>
/// Chooses, once per process, how LibTorch runs float32 convolutions: with oneDNN (MKLDNN, fast) wherever it computes
/// correctly, and with ATen's own im2col + GEMM kernels where it does not.
/// <para>
/// The fault (benchmarks <c>-- onednn-probe</c>, docs/benchmarks.md "oneDNN policy"): on the AMD EPYC family-26 VMs this
/// project runs on, libtorch 2.10's oneDNN returns wrong float32 convolutions for some shapes, deterministically — every
/// call, 1 or 2 threads — with its AVX-512 kernels (e.g. 24→8, 5×5, stride 2 on 64×64) and with its AVX/AVX2 kernels
/// (e.g. 12→10, 3×3 on 10×5); capped at SSE4.1 it is correct. ATen's kernels are correct everywhere.
/// </para>
/// <para>
/// Policy (<see cref="Mode"/>, or <c>MLNETEXT_ONEDNN</c> = <c>auto</c> | <c>on</c> | <c>off</c> | an oneDNN ISA name such as
/// <c>sse41</c>/<c>avx2</c>): <c>auto</c> switches oneDNN off on CPUs of the known-bad rule (<see cref="KnownBadCpu"/>);
/// elsewhere it runs <see cref="Probe"/> (the shapes that were wrong, float32 vs float64) and keeps oneDNN on, at full
/// speed, unless one is wrong. (Capped at SSE4.1 oneDNN is correct on the bad CPUs but no faster than ATen there.) <c>on</c> keeps libtorch's default; <c>off</c> always uses ATen.
/// An ISA cap only works before the process's first oneDNN convolution (oneDNN reads it once), so the suite applies it
/// in its first trainer/transformer; a host that runs its own convolutions first sets <c>ONEDNN_MAX_CPU_ISA</c> itself.
/// <c>MLNETEXT_KEEP_MKLDNN=1</c> (older name) means <c>on</c>.
/// </para>
/// </summary>
public static class ConvolutionBackend
{
    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr GlobalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void SetUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void SetUserEnabledNNPACK(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool UserEnabledMkldnn(IntPtr context);

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv(string name);


    /// <summary>Largest relative error <see cref="Probe"/> accepts (float32 rounding is ~1e-6 on these shapes; the fault is ≥ 0.1).</summary>
    public const double Tolerance = 1e-3;

    private static readonly object Gate = new();
    private static bool _checked;
    private static string? _mode;

    /// <summary>
    /// The policy: "auto" (default), "on", "off", or an oneDNN ISA name ("sse41", "avx2", "avx512_core", …) = oneDNN
    /// capped at that ISA. Read from <c>MLNETEXT_ONEDNN</c> unless set here; setting it after the check has run throws.
    /// </summary>
    public static string Mode
    {
        get => _mode ?? EnvironmentMode();
        set
        {
            var mode = Normalise(value, nameof(Mode));
            lock (Gate)
            {
                if (_checked) throw new InvalidOperationException(
                    $"ConvolutionBackend.Mode must be set before the first trainer or transformer runs (the backend was already chosen: {Decision}).");
                _mode = mode;
            }
        }
    }

    /// <summary>Largest float32-vs-float64 relative error of the probe convolutions under the first setting tried (null until checked).</summary>
    public static double? ProbeError { get; private set; }
    /// <summary>True when oneDNN was switched off (policy "off", or the probe failed).</summary>
    public static bool DisabledOneDnn { get; private set; }
    /// <summary>The ISA cap this process set (null when none).</summary>
    public static string? IsaCap { get; private set; }
    /// <summary>What was chosen and why, for logs and diagnostics (null until checked).</summary>
    public static string? Decision { get; private set; }
    /// <summary>Why the native switch could not be reached, or why the chosen backend is still wrong, if so.</summary>
    public static string? Failure { get; private set; }

    /// <summary>Whether libtorch currently uses oneDNN for convolutions (null when the switch is unreachable).</summary>
    public static bool? OneDnnEnabled
    {
        get { try { return UserEnabledMkldnn(GlobalContext()); } catch (Exception e) when (IsNative(e)) { return null; } }
    }

    /// <summary>Applies the policy once per process (cheap: a few small convolutions). Thread-safe.</summary>
    public static void EnsureCorrect()
    {
        lock (Gate)
        {
            if (_checked) return;
            _checked = true;
            var mode = Mode;
            try
            {
                if (mode == "off") { SetOneDnn(false); Decision = "oneDNN off (policy off)"; Verify(); return; }
                string? hostCap = Marshal.PtrToStringAnsi(GetEnv("ONEDNN_MAX_CPU_ISA"));
                if (mode == "auto" && KnownBadCpu())
                {
                    // Capped at SSE4.1 oneDNN is correct here, but measured no faster than ATen (TinyViM training 0.51×,
                    // SqueezeTime training 1.40×) and its results change with the thread count; ATen's do not.
                    SetOneDnn(false);
                    Decision = "oneDNN off (known-bad CPU rule: AMD family 26 under a hypervisor; policy auto)";
                    Verify();
                    return;
                }
                if (mode is not ("auto" or "on") && hostCap is null) CapOneDnnIsa(mode);
                SetUserEnabledNNPACK(GlobalContext(), false); // cannot initialise on these CPUs; warns on every conv
                ProbeError = Probe();
                string isa = IsaCap ?? hostCap ?? "default ISA";
                if (mode == "on" || ProbeError <= Tolerance || mode != "auto")
                {
                    Decision = $"oneDNN on ({isa}; policy {mode}; probe {ProbeError:E1})";
                    if (ProbeError > Tolerance) Failure = $"oneDNN convolutions are off by {ProbeError:E2} (relative) under policy '{mode}'";
                    return;
                }
                SetOneDnn(false);
                Decision = $"oneDNN off (probe {ProbeError:E1} with oneDNN at {isa} > {Tolerance:E0}; policy auto)";
                Verify();
            }
            catch (Exception e) when (IsNative(e)) { Failure = e.Message; Decision = $"unchanged ({e.GetType().Name})"; }
        }
    }

    private static void Verify()
    {
        DisabledOneDnn = true;
        var after = Probe();
        if (after > Tolerance) Failure = $"convolutions are still off by {after:E2} with oneDNN disabled";
    }

    /// <summary>
    /// The known-bad rule: AMD family 26 (Zen 5) CPUs under a hypervisor, where the probe found oneDNN's AVX and AVX-512
    /// kernels wrong. Reads /proc/cpuinfo (Linux); false elsewhere.
    /// </summary>
    public static bool KnownBadCpu()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return false;
            string vendor = "", family = "", flags = "";
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                var i = line.IndexOf(':');
                if (i < 0) { if (vendor.Length > 0) break; continue; }
                var key = line[..i].Trim(); var value = line[(i + 1)..].Trim();
                if (key == "vendor_id") vendor = value;
                else if (key == "cpu family") family = value;
                else if (key == "flags") flags = value;
            }
            return vendor == "AuthenticAMD" && family == "26" && (" " + flags + " ").Contains(" hypervisor ", StringComparison.Ordinal);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>Switches libtorch's oneDNN convolutions on or off for this process (NNPACK stays off: it cannot initialise on these CPUs).</summary>
    public static void SetOneDnn(bool enabled)
    {
        SetUserEnabledMkldnn(GlobalContext(), enabled);
        SetUserEnabledNNPACK(GlobalContext(), false);
    }

    /// <summary>
    /// Caps oneDNN's instruction set (<c>ONEDNN_MAX_CPU_ISA</c>, e.g. "SSE41", "AVX2") in the process environment that
    /// oneDNN reads (libc's, which .NET's Environment.SetEnvironmentVariable does not change). oneDNN reads it once, at
    /// its first primitive, so this only takes effect before the first oneDNN convolution of the process.
    /// </summary>
    public static void CapOneDnnIsa(string isa)
    {
        isa = isa.ToUpperInvariant();
        if (SetEnv("ONEDNN_MAX_CPU_ISA", isa, 1) != 0) throw new InvalidOperationException($"setenv(ONEDNN_MAX_CPU_ISA={isa}) failed");
        IsaCap = isa;
    }

    private static string EnvironmentMode()
    {
        if (Environment.GetEnvironmentVariable("MLNETEXT_KEEP_MKLDNN") == "1") return "on";
        var v = Environment.GetEnvironmentVariable("MLNETEXT_ONEDNN");
        return string.IsNullOrWhiteSpace(v) ? "auto" : Normalise(v, "MLNETEXT_ONEDNN");
    }

    private static readonly string[] Isas = ["sse41", "avx", "avx2", "avx2_vnni", "avx2_vnni_2", "avx512_core", "avx512_core_vnni", "avx512_core_bf16", "avx512_core_fp16", "avx512_core_amx", "avx10_1_512", "avx10_1_512_amx", "avx10_1_512_amx_fp16", "avx10_2_512", "avx10_2_512_amx_2", "default"];

    private static string Normalise(string value, string source)
    {
        var v = value.Trim().ToLowerInvariant();
        if (v is "auto" or "on" or "off" || Isas.Contains(v)) return v;
        throw new ArgumentException($"{source}: '{value}' is not a oneDNN policy; expected auto, on, off or an ISA name ({string.Join(", ", Isas)}).");
    }

    private static bool IsNative(Exception e) => e is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException;

    /// <summary>Max |float32 − float64| / max |float64| over the shapes that oneDNN got wrong on the known-bad CPUs.</summary>
    public static double Probe()
    {
        using var scope = torch.NewDisposeScope();
        using var mode = torch.no_grad();
        var gen = new Generator(1234);
        double Err(long[] input, long[] weight, long stride, long padding, long groups = 1)
        {
            var x = torch.randn(input, generator: gen);
            var w = torch.randn(weight, generator: gen);
            var s = new[] { stride, stride }; var p = new[] { padding, padding };
            var f32 = nn.functional.conv2d(x, w, strides: s, padding: p, groups: groups);
            var f64 = nn.functional.conv2d(x.to(float64), w.to(float64), strides: s, padding: p, groups: groups);
            var err = (f32.to(float64) - f64).abs().max().item<double>() / Math.Max(f64.abs().max().item<double>(), 1e-12);
            return double.IsNaN(err) ? double.PositiveInfinity : err;
        }
        return new[]
        {
            Err([2, 24, 64, 64], [8, 24, 5, 5], 2, 2),
            Err([2, 12, 10, 5], [10, 12, 3, 3], 1, 1),
            Err([2, 16, 10, 5], [16, 16, 7, 7], 1, 3),
            Err([2, 3, 64, 64], [8, 3, 3, 3], 2, 1),
            Err([2, 16, 16, 16], [16, 1, 7, 7], 1, 3, 16),
        }.Max();
    }
}
