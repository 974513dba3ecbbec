using Microsoft.ML;
using MLNetExtensions.Core.Interop;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;
using MLNetExtensions.Transforms.Datasets;

namespace MLNetExtensions.Tests.Core;

/// <summary>
/// Guards the reflection bridge into ML.NET internals: if an ML.NET upgrade moves any member, these fail loudly
/// (with the message that names the ML.NET version the bridge was written for) instead of models failing to load.
/// </summary>
public class PersistenceBridgeTests
{
    [Fact]
    public void EveryInternalMemberTheBridgeUsesStillExists()
    {
        var core = typeof(Microsoft.ML.Runtime.IHostEnvironment).Assembly;
        Assert.NotNull(core.GetType("Microsoft.ML.VersionInfo"));
        Assert.NotNull(core.GetType("Microsoft.ML.ModelLoadContext"));
        Assert.NotNull(core.GetType("Microsoft.ML.LoadableClassAttribute"));
        Assert.NotNull(core.GetType("Microsoft.ML.SignatureLoadModel"));
        Assert.NotNull(core.GetType("Microsoft.ML.Runtime.ComponentCatalog+LoadableClassInfo"));
        // Registration goes through AddClass and is idempotent.
        var ml = new MLContext(1);
        ml.RegisterMLNetExtensions();
        ml.RegisterMLNetExtensions();
        var col = MLNetInternals.MakeColumn("X", SchemaShape.Column.VectorKind.Vector, Microsoft.ML.Data.NumberDataViewType.Single, false);
        Assert.Equal("X", col.Name);
        Assert.Same(ml, MLNetInternals.GetEnvironment(ml));
        Assert.NotNull(MLNetInternals.GetEnvironment(ml.MulticlassClassification.Trainers));
    }

    [Fact]
    public void LoadingWithoutRegistrationFailsAndRegistrationFixesIt()
    {
        var ml = new MLContext(1);
        var data = MLNetExtensions.Transforms.Datasets.FashionMnist.Load(ml, MLNetExtensions.Transforms.Datasets.FashionMnistSplit.Train, 64);
        using var model = new TestCnnTrainer(ml, new TestCnnTrainer.Options { ImageColumnName = "Pixels", MaxEpochs = 1, Seed = 1 }).Fit(data);
        var zip = Path.Combine(Directory.CreateTempSubdirectory("mlx-reg").FullName, "m.zip");
        ml.Model.Save(model, data.Schema, zip);
        Assert.ThrowsAny<Exception>(() => new MLContext(2).Model.Load(zip, out _));
        var loaded = new MLContext(2).RegisterMLNetExtensions().Model.Load(zip, out _);
        Assert.IsType<MLNetExtensions.Core.Inference.TorchImageClassificationTransformer>(loaded);
        ((IDisposable)loaded).Dispose();
    }
}
