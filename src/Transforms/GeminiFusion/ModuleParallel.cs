using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>
/// Official <c>ModuleParallel</c> (models/modules.py): one module, shared by all modalities, applied to each
/// modality's tensor in turn. Key <c>module.*</c>.
/// </summary>
public sealed class ModuleParallel : nn.Module<IReadOnlyList<Tensor>, Tensor[]>
{
    private readonly nn.Module<Tensor, Tensor> module;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    public ModuleParallel(nn.Module<Tensor, Tensor> inner) : base(nameof(ModuleParallel))
    {
        module = inner ?? throw new ArgumentNullException(nameof(inner));
        RegisterComponents();
    }

    /// <summary>The shared module.</summary>
    public nn.Module<Tensor, Tensor> Module => module;

    /// <inheritdoc/>
    public override Tensor[] forward(IReadOnlyList<Tensor> x) => x.Select(t => module.call(t)).ToArray();
}

/// <summary>
/// Official <c>LayerNormParallel</c> (models/modules.py): one LayerNorm per modality, eps 1e-6. Keys
/// <c>ln_0.*</c>, <c>ln_1.*</c>, … (the official code fixes two; this port takes the modality count).
/// </summary>
public sealed class LayerNormParallel : nn.Module<IReadOnlyList<Tensor>, Tensor[]>
{
    /// <summary>The official epsilon.</summary>
    public const double Eps = 1e-6;

    private readonly TorchSharp.Modules.LayerNorm[] _norms;

    /// <summary>Creates <paramref name="modalities"/> LayerNorms over <paramref name="features"/> channels.</summary>
    public LayerNormParallel(long features, int modalities) : base(nameof(LayerNormParallel))
    {
        if (modalities < 1) throw new ArgumentOutOfRangeException(nameof(modalities), modalities, "At least one modality.");
        _norms = new TorchSharp.Modules.LayerNorm[modalities];
        for (int i = 0; i < modalities; i++)
        {
            _norms[i] = nn.LayerNorm(features, Eps);
            register_module("ln_" + i, _norms[i]);
        }
        RegisterComponents();
    }

    /// <summary>Number of modalities (LayerNorms).</summary>
    public int Count => _norms.Length;

    /// <summary>The LayerNorm of modality <paramref name="m"/> (key <c>ln_m</c>).</summary>
    public TorchSharp.Modules.LayerNorm this[int m] => _norms[m];

    /// <inheritdoc/>
    public override Tensor[] forward(IReadOnlyList<Tensor> x)
    {
        if (x.Count != _norms.Length)
            throw new ArgumentException($"Expected {_norms.Length} modality tensors; got {x.Count}.", nameof(x));
        var y = new Tensor[x.Count];
        for (int i = 0; i < x.Count; i++) y[i] = _norms[i].call(x[i]);
        return y;
    }
}
