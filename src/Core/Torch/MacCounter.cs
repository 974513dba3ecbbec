using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Core.Torch;

/// <summary>
/// Counts the multiply-accumulates (MACs) of one forward pass. Convention (that of the usual FLOP counters and of
/// analytic transformer counts): one MAC per weight multiply; biases, normalisations, activations, softmax, resizing
/// and element-wise additions are not counted.
/// <list type="bullet">
/// <item>Linear: output elements × in_features. Conv1d/2d/3d: output elements × in_channels/groups × kernel volume.
/// ConvTranspose: input elements × out_channels/groups × kernel volume. These are found by forward hooks on the modules.</item>
/// <item>Products written in a module's forward code (attention's q·kᵀ and attn·v, functional linears) are invisible to
/// hooks: such modules report them with <see cref="AddMatmul"/> / <see cref="Add"/>, which do nothing outside a count.</item>
/// </list>
/// The forward runs for real (LibTorch 2.10 has no META kernel for convolutions); small inputs keep it cheap.
/// </summary>
public static class MacCounter
{
    [ThreadStatic] private static Session? _current;

    /// <summary>True while <see cref="Count"/> runs a forward on this thread.</summary>
    public static bool Active => _current is not null;

    /// <summary>
    /// Runs <paramref name="forward"/> (which should call <paramref name="root"/>) without gradients and returns its MACs
    /// and <paramref name="root"/>'s parameter count. Hooks are removed afterwards; the module is otherwise unchanged.
    /// </summary>
    public static MacReport Count(nn.Module root, Action forward)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(forward);
        if (_current is not null) throw new InvalidOperationException("MacCounter.Count is already running on this thread.");
        var session = new Session(root);
        var hooks = new List<IDisposable>();
        try
        {
            foreach (var (name, m) in root.named_modules())
                if (Hook(m, name, session) is { } h) hooks.Add(h);
            _current = session;
            using (torch.no_grad()) forward();
        }
        finally
        {
            _current = null;
            foreach (var h in hooks) h.Dispose();
        }
        long parameters = root.parameters().Sum(p => p.numel());
        return new MacReport(session.Total, parameters, session.ByModule);
    }

    /// <summary>Reports <paramref name="macs"/> done by <paramref name="owner"/>'s own forward code, under <paramref name="label"/>.</summary>
    public static void Add(nn.Module owner, string label, long macs)
    {
        if (_current is { } s) s.Add(s.NameOf(owner) + "." + label, macs);
    }

    /// <summary>
    /// Reports the MACs of <c>a.matmul(b)</c> for a (…, m, k) and b (…, k, n) with broadcast batch dimensions:
    /// batch × m × k × n.
    /// </summary>
    public static void AddMatmul(nn.Module owner, string label, Tensor a, Tensor b)
    {
        if (_current is null) return;
        if (a.dim() < 2 || b.dim() < 2 || a.shape[^1] != b.shape[^2])
            throw new ArgumentException($"Not a matmul: [{string.Join(", ", a.shape)}] @ [{string.Join(", ", b.shape)}].");
        long batch = 1;
        int nb = (int)Math.Max(a.dim(), b.dim()) - 2;
        for (int i = 1; i <= nb; i++)
        {
            long da = i <= a.dim() - 2 ? a.shape[^(i + 2)] : 1, db = i <= b.dim() - 2 ? b.shape[^(i + 2)] : 1;
            batch *= Math.Max(da, db);
        }
        Add(owner, label, batch * a.shape[^2] * a.shape[^1] * b.shape[^1]);
    }

    private static IDisposable? Hook(nn.Module m, string name, Session s)
    {
        if (m is not nn.Module<Tensor, Tensor> mt) return null;
        bool transposed = m is ConvTranspose1d or ConvTranspose2d or ConvTranspose3d;
        if (m is not (Linear or Conv1d or Conv2d or Conv3d) && !transposed) return null;
        var remover = mt.register_forward_hook((_, input, output) =>
        {
            var w = m.get_parameter("weight");
            long perElement = w.shape.Skip(1).Aggregate(1L, (x, y) => x * y); // in/groups × kernel (Linear: in_features)
            s.Add(name, (transposed ? input.numel() : output.numel()) * perElement);
            return output;
        });
        return new Remover(() => remover.remove());
    }

    private sealed class Remover(Action remove) : IDisposable
    {
        public void Dispose() => remove();
    }

    private sealed class Session(nn.Module root)
    {
        private readonly Dictionary<nn.Module, string> _names = Names(root);
        public Dictionary<string, long> ByModule { get; } = new();

        private static Dictionary<nn.Module, string> Names(nn.Module root)
        {
            var names = new Dictionary<nn.Module, string>(ReferenceEqualityComparer.Instance);
            foreach (var (name, m) in root.named_modules()) names.TryAdd(m, name);
            names.TryAdd(root, "");
            return names;
        }
        public long Total { get; private set; }

        public string NameOf(nn.Module m) => _names.TryGetValue(m, out var n) ? (n.Length == 0 ? "(root)" : n) : m.GetName();

        public void Add(string key, long macs)
        {
            ByModule[key] = ByModule.GetValueOrDefault(key) + macs;
            Total += macs;
        }
    }
}
