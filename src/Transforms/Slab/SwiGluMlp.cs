using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Slab;

/// <summary>LLaMA MLP: <c>down_proj(silu(gate_proj(x)) · up_proj(x))</c>, no biases. Keys <c>gate_proj</c>, <c>down_proj</c>, <c>up_proj</c>.</summary>
public sealed class SwiGluMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear down_proj;
    private readonly Linear up_proj;

    /// <summary>Creates the MLP hidden → intermediate → hidden.</summary>
    public SwiGluMlp(long hidden, long intermediate) : base(nameof(SwiGluMlp))
    {
        gate_proj = nn.Linear(hidden, intermediate, hasBias: false);
        down_proj = nn.Linear(intermediate, hidden, hasBias: false);
        up_proj = nn.Linear(hidden, intermediate, hasBias: false);
        RegisterComponents();
    }

    /// <summary>Gate projection (a preceding norm folds into it).</summary>
    public Linear GateProj => gate_proj;
    /// <summary>Up projection (a preceding norm folds into it).</summary>
    public Linear UpProj => up_proj;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var hdn = nn.functional.silu(gate_proj.call(x)) * up_proj.call(x);
        return down_proj.call(hdn).MoveToOuterDisposeScope();
    }
}
