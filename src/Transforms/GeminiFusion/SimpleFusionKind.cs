namespace MLNetExtensions.Transforms.GeminiFusion;

/// <summary>A simple fusion that replaces GeminiFusion in the accuracy baselines.</summary>
public enum SimpleFusionKind
{
    /// <summary>GeminiFusion (official).</summary>
    None,
    /// <summary>Y_a = X_a + Σ_b X_b.</summary>
    Add,
    /// <summary>Y_a = X_a + Σ_b MLP([X_a ‖ X_b]).</summary>
    Concat,
}
