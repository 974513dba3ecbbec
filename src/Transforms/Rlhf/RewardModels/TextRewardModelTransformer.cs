using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Data.Binding;
using MLNetExtensions.Core.Inference;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Transforms.Rlhf.RewardModels;

/// <summary>
/// A fitted text reward model: scores (prompt[, context], response) rows.
/// <list type="bullet">
/// <item>Fine-grained kind: <c>SentenceScores</c> (Vector&lt;Single&gt;, one per separator of the response: P(no error)) and
/// <c>Score</c> (Single: the share of separators predicted "no error", the per-answer form of the paper's
/// relevance/factuality ratio; 0 without a separator).</item>
/// <item>Preference kind: <c>Score</c> = (s − μ)/σ, normalised by the score statistics of the training answers.</item>
/// </list>
/// The tokenizer is saved in the model zip (SHA-256 checked); the model round-trips through <c>mlContext.Model.Save/Load</c>.
/// </summary>
public sealed class TextRewardModelTransformer : TorchTransformerBase
{
    internal const string LoaderSignature = "MLNetExtTextRewardModel";
    /// <summary>Task name in the model description.</summary>
    public const string TaskName = "text-reward-model";
    private static readonly MLNetInternals.ModelVersion Version = new("MLXTTXRM", 0x00020001, 0x00020001, 0x00020001, LoaderSignature);

    private readonly IReadOnlyList<InputSpec> _features;

    /// <summary>Wraps a trained network.</summary>
    public TextRewardModelTransformer(IHostEnvironment env, ModelDescription description, TorchNetwork network, Device device,
        TextTokenizer tokenizer, TextRewardModelServing serving)
        : base(env, nameof(TextRewardModelTransformer), description, network, device)
    {
        Tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
        Serving = serving ?? throw new ArgumentNullException(nameof(serving));
        _features = serving.Inputs(tokenizer);
    }

    /// <summary>The tokenizer saved with the model.</summary>
    public TextTokenizer Tokenizer { get; }
    /// <summary>Columns, budgets and normalisation.</summary>
    public TextRewardModelServing Serving { get; }
    /// <summary>The network.</summary>
    public TextRewardNetwork Network => (TextRewardNetwork)Model;

    /// <inheritdoc/>
    protected override IReadOnlyList<InputSpec> FeatureInputs => _features;

    private protected override MLNetInternals.ModelVersion PersistenceVersion => Version;

    /// <summary>The output columns of a reward model of <paramref name="kind"/>.</summary>
    public static OutputSpec[] Outputs(TextRewardModelKind kind, string scoreColumn, string sentenceScoresColumn) => kind == TextRewardModelKind.FineGrained
        ? new[]
        {
            new OutputSpec(scoreColumn, OutputKind.Scalar, TextRewardNetwork.TokenLogits),
            new OutputSpec(sentenceScoresColumn, OutputKind.VariableScores, TextRewardNetwork.TokenLogits),
        }
        : new[] { new OutputSpec(scoreColumn, OutputKind.Scalar, TextRewardNetwork.ScoreOutput) };

    /// <inheritdoc/>
    protected override object[][] Postprocess(IReadOnlyDictionary<string, Tensor> outputs, int rows)
    {
        var result = new object[Description.Outputs.Length][];
        if (Serving.Kind == TextRewardModelKind.Preference)
        {
            var s = outputs[TextRewardNetwork.ScoreOutput].to(float32).cpu().data<float>().ToArray();
            result[0] = s.Select(v => (object)(float)((v - Serving.ScoreMean) / Serving.ScoreStd)).ToArray();
            return result;
        }
        var perSentence = SentenceProbabilities(outputs, rows);
        result[0] = perSentence.Select(p => (object)(p.Length == 0 ? 0f : p.Count(v => v >= 0.5f) / (float)p.Length)).ToArray();
        result[1] = perSentence.Select(p => (object)p).ToArray();
        return result;
    }

    /// <summary>P(no error) at every separator of each row, in order (from a fine-grained network's outputs).</summary>
    public static float[][] SentenceProbabilities(IReadOnlyDictionary<string, Tensor> outputs, int rows)
    {
        using var scope = torch.NewDisposeScope();
        var probs = outputs[TextRewardNetwork.TokenLogits].softmax(-1).select(-1, 0).to(float32).cpu().contiguous().data<float>().ToArray();
        var sep = outputs[TextRewardNetwork.SepMask].cpu().contiguous().data<bool>().ToArray();
        int t = sep.Length / rows;
        var res = new float[rows][];
        for (int r = 0; r < rows; r++)
        {
            var list = new List<float>();
            for (int j = 0; j < t; j++) if (sep[r * t + j]) list.Add(probs[r * t + j]);
            res[r] = list.ToArray();
        }
        return res;
    }

    /// <inheritdoc/>
    protected override IEnumerable<(string Stream, byte[] Bytes)> ExtraStreams()
    {
        yield return (TextRewardModelServing.StreamName, Serving.ToBytes());
        yield return (TextRewardModelServing.TokenizerStream, Tokenizer.ToBytes());
    }

    private static TextRewardModelTransformer Create(IHostEnvironment env, object ctx)
    {
        var load = MLNetInternals.OpenLoad(ctx, Version, typeof(TextRewardModelTransformer));
        var l = LoadV2(env, load, typeof(TextRewardModelTransformer), load.Reader.ReadString());
        try
        {
            var serving = TextRewardModelServing.FromBytes(ReadVerified(load, l.Description, TextRewardModelServing.StreamName, typeof(TextRewardModelTransformer)));
            var tokenizer = TextTokenizer.FromBytes(ReadVerified(load, l.Description, TextRewardModelServing.TokenizerStream, typeof(TextRewardModelTransformer)));
            return new TextRewardModelTransformer(env, l.Description, l.Network, l.Device, tokenizer, serving);
        }
        catch { l.Network.Module.Dispose(); throw; }
    }

    internal static void RegisterLoader(ComponentCatalog catalog) =>
        RegisterLoader(catalog, typeof(TextRewardModelTransformer), LoaderSignature);
}
