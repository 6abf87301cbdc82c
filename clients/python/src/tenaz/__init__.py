"""Tenaz's Python client: the generated `tenaz.v1` stubs and a small typed wrapper.

from tenaz.client import TenazClient
"""
