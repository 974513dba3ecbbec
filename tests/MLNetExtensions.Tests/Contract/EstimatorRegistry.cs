using MLNetExtensions.Estimators.VisionLanguage;
using MLNetExtensions.Estimators.AlignKd;
using MLNetExtensions.Transforms.VisionLanguage;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Core.Data;
using MLNetExtensions.Transforms.Datasets.Scenes;
using MLNetExtensions.Transforms.Datasets.Video;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Estimators.Fustal;
using MLNetExtensions.Estimators.Segmentation;
using MLNetExtensions.Estimators.GeminiFusion;
using MLNetExtensions.Transforms.GeminiFusion;
using MLNetExtensions.Evaluators.TemporalLocalization;
using MLNetExtensions.Transforms.Fustal;
using MLNetExtensions.Estimators.Slab;
using MLNetExtensions.Estimators.SqueezeTime;
using MLNetExtensions.Estimators.TinyViM;
using MLNetExtensions.Evaluators.Segmentation;
using MLNetExtensions.Tests.Infrastructure;
using MLNetExtensions.Transforms.Slab;
using MLNetExtensions.Transforms.SqueezeTime;
using MLNetExtensions.Transforms.Datasets;
using MLNetExtensions.Estimators.Rlhf;
using MLNetExtensions.Tests.Rlhf;
using MLNetExtensions.Transforms.Rlhf.RewardModels;

namespace MLNetExtensions.Tests.Contract;

/// <summary>
/// One tiny-data factory per estimator of the suite: the contract tests (<see cref="EstimatorContractTests"/>) run over
/// every entry, so a new component gets them by adding one line here.
/// </summary>
/// <param name="Name">Case name (test display).</param>
/// <param name="Create">The estimator, with the shared options adjusted by the test (seed, checkpoints, cancellation…).</param>
/// <param name="Train">Tiny training data.</param>
/// <param name="Test">Rows to score (no overlap needed).</param>
/// <param name="Label">Label column (dropped to check that a fitted model applies without it).</param>
/// <param name="Features">Feature columns the model reads.</param>
/// <param name="HasBatchNorm">Whether the trained network has BatchNorm layers (their re-estimation must run).</param>
public sealed record EstimatorCase(string Name, Func<MLContext, Action<TorchTrainerOptions>, IEstimator<ITransformer>> Create,
    Func<MLContext, IDataView> Train, Func<MLContext, IDataView> Test, string Label, string[] Features, bool HasBatchNorm)
{
    /// <summary>
    /// Columns whose swapped-in type a SchemaShape cannot tell from the right one (e.g. a feature Vector&lt;Single&gt; under
    /// the name of a 0/1 multi-hot Vector&lt;Single&gt; label: sizes are not in a SchemaShape). GetOutputSchema is not
    /// asked to reject them; Fit still must, from the data.
    /// </summary>
    public string[] SwapSeenOnlyInData { get; init; } = Array.Empty<string>();

    public override string ToString() => Name;
}

public static class EstimatorRegistry
{
    public static readonly EstimatorCase[] All =
    {
        new("SimpleConvNet (image classifier base)",
            (ml, c) => new TestCnnTrainer(ml, Configure(new TestCnnTrainer.Options { ImageColumnName = "Image", Width = 4, MaxEpochs = 2, BatchSize = 8, LearningRate = 5e-3 }, c)),
            ml => ContractData.Images(ml, 32, 16, 0), ml => ContractData.Images(ml, 8, 16, 100), "Label", new[] { "Image" }, true),
        new("TinyViM",
            (ml, c) => ml.MulticlassClassification.Trainers.TinyViM(Configure(new TinyViMClassifier.Options { ImageColumnName = "Image", Variant = "Micro", MaxEpochs = 2, BatchSize = 8 }, c)),
            ml => ContractData.Images(ml, 32, 32, 0), ml => ContractData.Images(ml, 8, 32, 100), "Label", new[] { "Image" }, true),
        new("SLAB (DeiT nano, PRepBN)",
            (ml, c) => ml.MulticlassClassification.Trainers.Slab(Configure(new SlabClassifier.Options { ImageColumnName = "Image", Family = SlabFamily.DeiT, Variant = "nano", MaxEpochs = 2, BatchSize = 8 }, c)),
            ml => ContractData.Images(ml, 32, 16, 0), ml => ContractData.Images(ml, 8, 16, 100), "Label", new[] { "Image" }, true),
        new("SSA segmenter",
            (ml, c) => ml.Segmentation().Trainers.Ssa(Configure(new SsaSegmenter.Options { BackboneWidths = new[] { 8, 8, 8, 8 }, DecoderChannels = 8, MaxEpochs = 2, BatchSize = 4 }, c)),
            ml => ml.Data.Cache(FashionScenes.Load(ml, new FashionSceneOptions { Count = 16, Seed = 1, SourceRows = 100, Height = 32, Width = 32 })),
            ml => ml.Data.Cache(FashionScenes.Load(ml, new FashionSceneOptions { Count = 4, Seed = 2, SourceRows = 100, Height = 32, Width = 32 })),
            "Mask", new[] { "Image" }, true),
        new("SqueezeTime video classifier",
            (ml, c) => ml.MulticlassClassification.Trainers.SqueezeTime(Configure(new SqueezeTimeVideoClassifier.Options { Config = SqueezeTimeConfig.Tiny(frames: 8), MaxEpochs = 2, BatchSize = 4 }, c)),
            ml => ml.Data.Cache(new MovingFashionMnist(new MovingFashionMnistOptions(Count: 16, Seed: 1))),
            ml => ml.Data.Cache(new MovingFashionMnist(new MovingFashionMnistOptions(Count: 4, Seed: 2))),
            "Label", new[] { "Video" }, true),
        new("GeminiFusion segmenter (RGB + depth)",
            (ml, c) => ml.Segmentation().Trainers.GeminiFusion(Configure(new GeminiFusionSegmenter.Options { Backbone = GeminiFusionTestData.Micro, EmbeddingDim = 8, MaxEpochs = 2, BatchSize = 4, LearningRate = 1e-3 }, c)),
            ml => ml.Data.Cache(FashionScenes.Load(ml, new FashionSceneOptions { Count = 16, Seed = 1, SourceRows = 100, Height = 32, Width = 32 })),
            ml => ml.Data.Cache(FashionScenes.Load(ml, new FashionSceneOptions { Count = 4, Seed = 2, SourceRows = 100, Height = 32, Width = 32 })),
            "Mask", new[] { "Image", "Depth" }, true),
        new("VisionLanguage (mini VLM)",
            (ml, c) => ml.MulticlassClassification.Trainers.VisionLanguage(Configure(new VisionLanguageTrainer.Options { DModel = 16, Layers = 1, Heads = 2, MaxEpochs = 2, BatchSize = 8, VisionTowerPretrainSteps = 3 }, c)),
            ml => ml.Data.Cache(FashionSceneVqa.Create(ml, FashionMnistSplit.Train, 1, 300).ToDataView(ml, 16)),
            ml => ml.Data.Cache(FashionSceneVqa.Create(ml, FashionMnistSplit.Test, 2, 300).ToDataView(ml, 4)),
            "Answer", new[] { "Image", "Question" }, false),
        new("AlignKdDistiller (mini VLM student)",
            (ml, c) => ml.MulticlassClassification.Trainers.AlignKd(Configure(new MLNetExtensions.Estimators.AlignKd.AlignKdDistiller.Options
                { Teacher = MLNetExtensions.Tests.AlignKd.AlignKdDistillerTests.Teacher, DModel = 8, Layers = 1, Heads = 2, MaxEpochs = 2, BatchSize = 8 }, c)),
            ml => ml.Data.Cache(FashionSceneVqa.Create(ml, FashionMnistSplit.Train, 1, 300).ToDataView(ml, 16)),
            ml => ml.Data.Cache(FashionSceneVqa.Create(ml, FashionMnistSplit.Test, 2, 300).ToDataView(ml, 4)),
            "Answer", new[] { "Image", "Question" }, false),
        new("FuSTAL teacher (CoLA)",
            (ml, c) => ml.TemporalLocalization().Trainers.FustalTeacher(Configure(new FustalTeacher.Options
                { FeatureSize = 8, SampledLength = 20, EmbedDim = 16, REasy = 5, RHard = 5, MaxSnippets = 32, MaxEpochs = 2, BatchSize = 4, LearningRate = 1e-3 }, c)),
            ml => ContractData.Snippets(ml, 16, 1), ml => ContractData.Snippets(ml, 6, 2), "Label", new[] { "Features" }, false) { SwapSeenOnlyInData = new[] { "Label" } },
        new("FuSTAL student (TriDet + EMA)",
            (ml, c) => ml.TemporalLocalization().Trainers.FustalStudent(Configure(new FustalStudent.Options
            {
                FeatureSize = 8, MaxSnippets = 32, MaxSegments = 8, MaxEpochs = 2, BatchSize = 4, LearningRate = 1e-3, EmaSwitchEpoch = 1, EmaDecay = 0.9,
                Grid = new StudentGridSpec(Fps: 25, Stride: 16, Window: 16),
                Network = new TriDetConfig(EmbedDim: 16, MlpDim: 16, NumLevels: 3, StemBlocks: 1, NumBins: 4, HeadDim: 16, HeadLayers: 1),
            }, c)),
            ml => ContractData.Snippets(ml, 16, 1), ml => ContractData.Snippets(ml, 6, 2), "Label", new[] { "Features" }, false) { SwapSeenOnlyInData = new[] { "Label" } },
        new("Text reward model (fine-grained relevance)",
            (ml, c) => ml.Rlhf().RewardModel(Configure(RewardModelContractData.Options(TextRewardModelKind.FineGrained), c)),
            ml => RewardModelContractData.FineGrained(ml, 24, 1), ml => RewardModelContractData.FineGrained(ml, 6, 2), "Labels", new[] { "Prompt", "Response" }, false),
        // The preference kind trains on Chosen/Rejected and scores Response: Response is not a training input.
        new("Text reward model (preference, completeness)",
            (ml, c) => ml.Rlhf().RewardModel(Configure(RewardModelContractData.Options(TextRewardModelKind.Preference), c)),
            ml => RewardModelContractData.Preferences(ml, 24, 1), ml => RewardModelContractData.Preferences(ml, 6, 2), "Chosen", new[] { "Prompt", "Context" }, false),
    };

    /// <summary>Every case; MLNETEXT_CONTRACT_CASE=text keeps only the cases whose name contains it (to run one component's contract locally).</summary>
    public static IEnumerable<object[]> Cases => All
        .Where(c => Environment.GetEnvironmentVariable("MLNETEXT_CONTRACT_CASE") is not { Length: > 0 } only || c.Name.Contains(only, StringComparison.OrdinalIgnoreCase))
        .Select(c => new object[] { c });

    private static T Configure<T>(T options, Action<TorchTrainerOptions> configure) where T : TorchTrainerOptions
    {
        options.Seed = 5;
        options.LogEveryNSteps = 0;
        options.BatchNormRecalibrationBatches = 2;
        configure(options);
        return options;
    }
}

/// <summary>Tiny image data for the contract tests: Fashion-MNIST items padded into C×S×S float vectors (S ≥ 28 pads, else crops).</summary>
public static class ContractData
{
    private sealed class Row
    {
        public float[] Image { get; set; } = Array.Empty<float>();
        [KeyType(10)] public uint Label { get; set; }
    }

    private sealed class SnippetRow
    {
        public float[] Features { get; set; } = Array.Empty<float>();
        public uint[] Label { get; set; } = Array.Empty<uint>();
        public float[] PseudoStart { get; set; } = Array.Empty<float>();
        public float[] PseudoEnd { get; set; } = Array.Empty<float>();
        public uint[] PseudoLabel { get; set; } = Array.Empty<uint>();
    }

    /// <summary>Synthetic untrimmed snippet features (25 snippets × 8, a known-size vector so that a wrong geometry is visible in the schema) with multi-hot key labels of 3 classes and the ground-truth segments as the student's targets (PseudoStart/End/Label).</summary>
    public static IDataView Snippets(MLContext ml, int rows, int seed)
    {
        var videos = SyntheticUntrimmedFeatures.Generate(rows, seed, new SyntheticUntrimmedOptions
        {
            NumClasses = 3, FeatureDim = 8, MinLength = 25, MaxLength = 25, MinInstanceLength = 3, MaxInstanceLength = 6, MaxInstancesPerClass = 1,
        });
        var data = videos.Select(v =>
        {
            var inst = v.InstancesInSeconds(SyntheticUntrimmedDataView.SecondsPerSnippet).ToList();
            return new SnippetRow
            {
                Features = v.Features, Label = Enumerable.Range(0, 3).Where(c => v.Labels[c] > 0).Select(c => (uint)c + 1).ToArray(),
                PseudoStart = inst.Select(i => (float)i.Start).ToArray(), PseudoEnd = inst.Select(i => (float)i.End).ToArray(),
                PseudoLabel = inst.Select(i => (uint)i.ClassIndex + 1).ToArray(),
            };
        }).ToList();
        var def = SchemaDefinition.Create(typeof(SnippetRow));
        def["PseudoLabel"].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), 3));
        def["Features"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 25 * 8);
        def["Label"].ColumnType = new VectorDataViewType(new KeyDataViewType(typeof(uint), 3));
        return ml.Data.Cache(ml.Data.LoadFromEnumerable(data, def));
    }

    public static IDataView Images(MLContext ml, int rows, int side, int skip)
    {
        var src = FashionMnist.Load(ml, FashionMnistSplit.Train, rows + skip);
        var pixels = src.GetColumn<VBuffer<float>>("Pixels").Skip(skip).Select(v => v.DenseValues().ToArray()).ToArray();
        var labels = src.GetColumn<uint>("Label").Skip(skip).ToArray();
        var data = new List<Row>();
        for (int r = 0; r < rows; r++)
        {
            var img = new float[3 * side * side];
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < side; y++)
                    for (int x = 0; x < side; x++)
                    {
                        int sy = y - (side - 28) / 2, sx = x - (side - 28) / 2;
                        if (sy >= 0 && sy < 28 && sx >= 0 && sx < 28) img[(c * side + y) * side + x] = pixels[r][sy * 28 + sx];
                    }
            data.Add(new Row { Image = img, Label = labels[r] - 1 });
        }
        var def = SchemaDefinition.Create(typeof(Row));
        def["Image"].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, side, side);
        return ml.Data.Cache(ml.Data.LoadFromEnumerable(data, def));
    }
}
