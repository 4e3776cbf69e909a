-- Run once by the postgres image on first start: one database for Prefect, one for the news.
CREATE DATABASE prefect;
CREATE DATABASE news;
