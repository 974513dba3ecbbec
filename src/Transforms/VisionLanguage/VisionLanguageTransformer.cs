using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.VisionLanguage;

/// <summary>
/// A fitted mini VLM: image + question text → the greedy answer text (<c>PredictedAnswer</c>) and its probability
/// (<c>Score</c>, Vector&lt;Single, 1&gt;). The tokenizer (Microsoft.ML.Tokenizers payload, SHA-256 checked) is saved in
/// the model zip. Batched <c>Transform</c>, <c>PredictionEngine</c> and <c>mlContext.Model.Save/Load</c> (after
/// <c>mlContext.RegisterMLNetExtensions()</c>) come from <see cref="TorchTransformerBase"/>.
/// </summary>
public sealed class VisionLanguageTransformer : TorchTransformerBase
{
    internal const string LoaderSignature = "MLNetExtVisionLanguage";
    /// <summary>Name of the tokenizer stream in the model zip.</summary>
    public const string TokenizerStream = "Tokenizer.bin";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTVLMD", 0x00020001, 0x00020001, 0x00020001, LoaderSignature);

    /// <summary>Wraps a trained network and its tokenizer (takes ownership of the network).</summary>
    public VisionLanguageTransformer(IHostEnvironment env, ModelDescription description, TorchNetwork network, Device device, TextTokenizer tokenizer)
        : base(env, nameof(VisionLanguageTransformer), description, network, device)
    {
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
    }

    /// <summary>The tokenizer saved with the model.</summary>
    public TextTokenizer Tokenizer { get; }

    /// <summary>The served model (eval mode).</summary>
    public MiniVlm Network => (MiniVlm)Model;

    private protected override MLNetInternals.ModelVersion PersistenceVersion => Version;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> FeatureInputs =>
        Description.Features.Select(s => s is TokenInputSpec t ? t with { Encoder = new VqaPromptEncoder(Tokenizer) } : s).ToList();

    /// <summary>The outputs: answer text and its probability.</summary>
    public static OutputSpec[] Outputs(string predictedAnswerColumn, string scoreColumn) => new[]
    {
        new OutputSpec(predictedAnswerColumn, OutputKind.Text, MiniVlm.AnswerIdsSlot),
        new OutputSpec(scoreColumn, OutputKind.Scores, MiniVlm.AnswerScoreSlot) { Shape = new[] { 1 } },
    };

    /// <inheritdoc/>
    protected override object[][] Postprocess(IReadOnlyDictionary<string, Tensor> outputs, int rows)
    {
        var result = new object[Description.Outputs.Length][];
        for (int i = 0; i < result.Length; i++)
        {
            var o = Description.Outputs[i];
            if (o.Kind != OutputKind.Text) { result[i] = Derive(o, outputs, rows); continue; }
            var ids = outputs[o.Source];
            long k = ids.shape[1];
            var host = ids.cpu().data<long>().ToArray();
            result[i] = Enumerable.Range(0, rows).Select(r => (object)Tokenizer.Decode(host.AsSpan((int)(r * k), (int)k).ToArray())).ToArray();
        }
        return result;
    }

    /// <inheritdoc/>
    protected override IEnumerable<(string Stream, byte[] Bytes)> ExtraStreams() => new[] { (TokenizerStream, Tokenizer.ToBytes()) };

    /// <summary>ML.NET's loader entry (<c>SignatureLoadModel</c>).</summary>
    private static VisionLanguageTransformer Create(IHostEnvironment env, object ctx)
    {
        var load = MLNetInternals.OpenLoad(ctx, Version, typeof(VisionLanguageTransformer));
        var json = load.Reader.ReadString();
        var l = LoadV2(env, load, typeof(VisionLanguageTransformer), json);
        try
        {
            var tok = TextTokenizer.FromBytes(ReadVerified(load, l.Description, TokenizerStream, typeof(VisionLanguageTransformer)));
            return new VisionLanguageTransformer(env, l.Description, l.Network, l.Device, tok);
        }
        catch { l.Network.Module.Dispose(); throw; }
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(VisionLanguageTransformer), LoaderSignature);
}
