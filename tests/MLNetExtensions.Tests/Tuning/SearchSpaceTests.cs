using MLNetExtensions.Core.Training;
using MLNetExtensions.Core.Tuning;
using MLNetExtensions.Tests.Infrastructure;
using Xunit;

namespace MLNetExtensions.Tests.Tuning;

/// <summary>Search-space construction: attributes, fluent definitions, the compiled setters and the errors for bad properties.</summary>
public class SearchSpaceTests
{
    [Fact]
    public void FromAttributesReadsTheTrainerOptionDefaultsBaseClassFirst()
    {
        var space = SearchSpace<TestCnnTrainer.Options>.FromAttributes();
        Assert.Equal(new[] { "BatchSize", "LearningRate", "WarmupSteps", "WeightDecay" }, space.Parameters.Select(p => p.Name));
        var lr = Assert.IsType<RangeParameter>(space.Parameters.Single(p => p.Name == "LearningRate"));
        Assert.True(lr.LogBase);
        Assert.Equal((1e-5, 1e-2), (lr.Min, lr.Max));
        // The log grid is geometric: 1e-5, 5.62e-5, 3.16e-4, 1.78e-3, 1e-2.
        var grid = lr.GridValues.Cast<double>().ToArray();
        Assert.Equal(5, grid.Length);
        Assert.Equal(1e-5, grid[0]); Assert.Equal(1e-2, grid[^1]);
        for (int i = 1; i < grid.Length; i++) Assert.Equal(Math.Pow(1e3, 0.25), grid[i] / grid[i - 1], 9);
        var bs = Assert.IsType<ChoiceParameter>(space.Parameters.Single(p => p.Name == "BatchSize"));
        Assert.Equal(new object?[] { 16, 32, 64, 128 }, bs.Values);
        Assert.True(bs.IsLogScale);
        var wd = Assert.IsType<RangeParameter>(space.Parameters.Single(p => p.Name == "WeightDecay"));
        Assert.True(wd.LogBase && wd.Min < 0.05 && wd.Max > 0.05, "the default weight decay 0.05 lies inside its sweep range");
        // The defaults of the options themselves lie inside their sweep ranges.
        var o = new TestCnnTrainer.Options();
        Assert.InRange(o.LearningRate, lr.Min, lr.Max);
        Assert.Contains((object)o.BatchSize, bs.Values);
        Assert.Contains((object)o.WarmupSteps, space.Parameters.Single(p => p.Name == "WarmupSteps").GridValues);
    }

    [Fact]
    public void FluentDefinitionsReplaceAttributeDefaultsInPlaceAndWithoutRemoves()
    {
        var space = SearchSpace<ToyOptions>.FromAttributes()
            .Range(o => o.Rate, 0.001, 0.002, gridPoints: 3)
            .Choice(o => o.Mode, "a", "b")
            .Without(o => o.Width);
        Assert.Equal(new[] { "Rate", "Mode" }, space.Parameters.Select(p => p.Name));
        Assert.Equal(new object?[] { 0.001, 0.0015, 0.002 }, space.Parameters[0].GridValues);
    }

    [Fact]
    public void ApplySetsEveryKindOfPropertyThroughTheCompiledSetter()
    {
        var space = new SearchSpace<ToyOptions>()
            .Range(o => o.Scale, 0.5, 2)
            .Range(o => o.Steps, 10, 20)
            .Choice(o => o.Patience, null, 3)
            .Choice("Schedule", "Linear", "Cosine")
            .Choice(o => o.Flag, true, false)
            .Values(o => o.Rate, new[] { 1e-3, 1e-2 }, logBase: true);
        var set = new ParameterSet(new (string, object?)[] { ("Scale", 1.5f), ("Steps", 12L), ("Patience", 3), ("Schedule", LearningRateSchedule.Linear), ("Flag", true), ("Rate", 1e-2) });
        var o = new ToyOptions();
        space.Apply(o, set);
        Assert.Equal((1.5f, 12L, (int?)3, LearningRateSchedule.Linear, true, 1e-2), (o.Scale, o.Steps, o.Patience, o.Schedule, o.Flag, o.Rate));
        space.Apply(o, new ParameterSet(new (string, object?)[] { ("Patience", null) }));
        Assert.Null(o.Patience);
        // The choice converted the enum names to the enum.
        Assert.Equal(new object?[] { LearningRateSchedule.Linear, LearningRateSchedule.Cosine }, space.Parameters.Single(p => p.Name == "Schedule").GridValues);
    }

    [Fact]
    public void BadPropertiesAndValuesThrowNamingTheProperty()
    {
        var space = new SearchSpace<ToyOptions>();
        var missing = Assert.Throws<ArgumentException>(() => space.Range("LearningRat", 0, 1));
        Assert.Contains("no public property 'LearningRat'", missing.Message);
        Assert.Contains("Rate", missing.Message); // lists the available properties
        var readOnly = Assert.Throws<ArgumentException>(() => space.Range(o => o.Computed, 0, 1));
        Assert.Contains("'Computed'", readOnly.Message);
        Assert.Contains("read-only", readOnly.Message);
        var nested = Assert.Throws<ArgumentException>(() => space.Range(o => o.Inner.Rate, 0, 1));
        Assert.Contains("must name a property of the options directly", nested.Message);
        var notNumeric = Assert.Throws<ArgumentException>(() => space.Range(o => o.Mode, 0, 1));
        Assert.Contains("'Mode'", notNumeric.Message);
        var wrongType = Assert.Throws<ArgumentException>(() => space.Choice("Width", 16, "wide"));
        Assert.Contains("'Width'", wrongType.Message);
        Assert.Contains("Int32", wrongType.Message);
        var fraction = Assert.Throws<ArgumentException>(() => space.Choice("Width", 1.5));
        Assert.Contains("whole numbers", fraction.Message);
        Assert.Throws<ArgumentException>(() => space.Choice("Width", new object?[] { null }));
        Assert.Contains("Linear", Assert.Throws<ArgumentException>(() => space.Choice("Schedule", "Exponential")).Message);
        Assert.Contains("'Width'", Assert.Throws<ArgumentOutOfRangeException>(() => space.Range(o => o.Width, 0.5, 4)).Message);
        Assert.Contains("Min > 0", Assert.Throws<ArgumentOutOfRangeException>(() => space.Range(o => o.Rate, 0, 1, logBase: true)).Message);
        Assert.Contains("Min < Max", Assert.Throws<ArgumentOutOfRangeException>(() => space.Range(o => o.Rate, 1, 1)).Message);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => space.Choice(o => o.Width, 2, 2)).Message);
        Assert.Empty(space.Parameters); // nothing half-added
    }

    [Fact]
    public void IntegerRangesGiveWholeNumbersAndDropDuplicateGridPoints()
    {
        var p = new SearchSpace<ToyOptions>().Range(o => o.Width, 1, 3, gridPoints: 5).Parameters[0];
        Assert.Equal(new object?[] { 1, 2, 3 }, p.GridValues); // 1, 1.5, 2, 2.5, 3 rounded and de-duplicated
        var rng = new Random(1);
        var drawn = Enumerable.Range(0, 300).Select(_ => (int)p.Sample(rng)!).ToHashSet();
        Assert.Equal(new HashSet<int> { 1, 2, 3 }, drawn); // both end points are reachable
    }
}
