using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNetExtensions.Core.Models;
using MLNetExtensions.Core.Training;
using MLNetExtensions.Transforms.Baselines;

namespace MLNetExtensions.Tests.Infrastructure;

/// <summary>A trainer over the small SimpleConvNet: exercises the shared machinery quickly.</summary>
public sealed class TestCnnTrainer : TorchImageClassificationTrainer<TestCnnTrainer.Options>
{
    public sealed class Options : ImageClassifierOptions
    {
        public int Width { get; set; } = 8;
    }

    public TestCnnTrainer(MLContext ml, Options o) : base(ml, o, nameof(TestCnnTrainer))
    {
    }

    protected override IModelArchitecture ArchitectureRecord => new SimpleConvNetConfig(3, TrainerOptions.Width, 2);
    protected override void CheckImageSize(string column, int height, int width)
    {
        if (height < 4 || width < 4) throw new ArgumentException($"Column '{column}': images must be at least 4×4.");
    }
}
