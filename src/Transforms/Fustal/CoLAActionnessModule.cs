using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Fustal;

/// <summary>
/// CoLA's <c>Actionness_Module</c>: embedding <c>ReLU(Conv1d k3)</c>, CAS <c>ReLU(Conv1d k1, no bias)(Dropout 0.7(E))</c>,
/// actionness = Σ over classes of the CAS. Keys <c>f_embed.0.*</c>, <c>f_cls.0.weight</c> as the official module.
/// </summary>
public sealed class CoLAActionnessModule : nn.Module<Tensor, (Tensor Embeddings, Tensor Cas, Tensor Actionness)>
{
    private readonly Sequential f_embed;
    private readonly Sequential f_cls;
    private readonly Dropout dropout;

    /// <summary>Creates the module for <paramref name="featureDim"/>-d snippets, <paramref name="numClasses"/> classes and an embedding of <paramref name="embedDim"/> (official 2048).</summary>
    public CoLAActionnessModule(long featureDim, long numClasses, long embedDim = 2048, double dropout = 0.7) : base("Actionness_Module")
    {
        f_embed = nn.Sequential(nn.Conv1d(featureDim, embedDim, 3, stride: 1, padding: 1L), nn.ReLU());
        f_cls = nn.Sequential(nn.Conv1d(embedDim, numClasses, 1, stride: 1, padding: 0L, bias: false), nn.ReLU());
        this.dropout = nn.Dropout(dropout);
        RegisterComponents();
    }

    /// <summary><paramref name="x"/>: (B, T, D) → embeddings (B, T, E), CAS (B, T, C) ≥ 0, actionness (B, T).</summary>
    public override (Tensor Embeddings, Tensor Cas, Tensor Actionness) forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var h = f_embed.call(x.permute(0, 2, 1));
        var embeddings = h.permute(0, 2, 1);
        var cas = f_cls.call(dropout.call(h)).permute(0, 2, 1);
        var aness = cas.sum(2);
        return (embeddings.MoveToOuterDisposeScope(), cas.MoveToOuterDisposeScope(), aness.MoveToOuterDisposeScope());
    }
}
